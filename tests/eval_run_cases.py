"""Corruptions of a real lm-eval output directory, each with the failure_class the eval_run gate must
give. Shared by the unit tests (on the committed copy, tests/fixtures/lmeval_real_output) and the
integration tests (on a fresh lm-eval run): the same bytes-level edits, the same expectations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable, Optional

MC, GEN = "conductor_tiny_mc", "conductor_tiny_gen"
REAL_OUTPUT = Path(__file__).resolve().parent / "fixtures" / "lmeval_real_output"


# ---------------------------------------------------------------- file helpers

def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def results_file(run: Path) -> Path:
    return sorted(run.rglob("results_*.json"))[-1]


def samples_file(run: Path, task: str) -> Path:
    return sorted(run.rglob(f"samples_{task}_*.jsonl"))[-1]


def edit_results(run: Path, fn: Callable[[dict[str, Any]], None]) -> None:
    p = results_file(run)
    data = json.loads(p.read_text(encoding="utf-8"))
    fn(data)
    p.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")  # NaN stays NaN, as lm-eval


def edit_lines(run: Path, task: str, fn: Callable[[list[str]], list[str]]) -> None:
    p = samples_file(run, task)
    lines = p.read_text(encoding="utf-8").splitlines()
    p.write_text("".join(line + "\n" for line in fn(lines)), encoding="utf-8")


def edit_samples(run: Path, task: str, fn: Callable[[int, dict[str, Any]], None],
                 only_filter: Optional[str] = None) -> None:
    """fn(i, sample) edits each sample (of `only_filter`, if given) in place; i counts those samples."""
    def apply(lines: list[str]) -> list[str]:
        out, i = [], 0
        for line in lines:
            obj = json.loads(line)
            if only_filter is None or obj.get("filter") == only_filter:
                fn(i, obj)
                i += 1
            out.append(json.dumps(obj, ensure_ascii=False))
        return out
    edit_lines(run, task, apply)


def restate(run: Path, task: str, metric: str, filt: str = "none") -> None:
    """Rewrite the reported score and stderr from the (edited) per-sample log, with lm-eval's own mean
    and mean_stderr: a consistent forgery, so that the defect under test is the only one left."""
    from gates.eval_run.samples import mean_and_stderr

    lines = [json.loads(x) for x in samples_file(run, task).read_text(encoding="utf-8").splitlines()]
    score, stderr = mean_and_stderr([float(x[metric]) for x in lines if x.get("filter", "none") == filt])
    edit_results(run, lambda d: d["results"][task].update({f"{metric},{filt}": score,
                                                           f"{metric}_stderr,{filt}": stderr}))


def set_record(run: Path, **fields: Any) -> None:
    p = run / "run.json"
    data = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
    data.update(fields)
    p.write_text(json.dumps(data, indent=2), encoding="utf-8")


# ---------------------------------------------------------------- the corruptions

def respell_doc_ids(spellings: dict[int, Callable[[int], Any]]) -> Callable[[Path], None]:
    """Replace line `i` by a copy of the line of another document `j` with the same value of the primary
    metric, its doc_id spelled `spell(j)` (spellings: i -> spell). Every count and score still agrees:
    only the identity of the documents is wrong (one document counted twice, another missing)."""
    def corrupt(run: Path) -> None:
        def apply(lines: list[str]) -> list[str]:
            objs = [json.loads(x) for x in lines]
            for i, spell in spellings.items():
                j = next(j for j, o in enumerate(objs) if j not in spellings and o["acc"] == objs[i]["acc"])
                objs[i] = {**objs[j], "doc_id": spell(j)}
            return [json.dumps(o, ensure_ascii=False) for o in objs]
        edit_lines(run, MC, apply)
    return corrupt


def out_of_domain(values: dict[int, float], task: str = MC, metric: str = "acc",
                  filt: str = "none") -> Callable[[Path], None]:
    """Set per-sample values (i -> value) of `metric`, then restate the results to match them."""
    def corrupt(run: Path) -> None:
        edit_samples(run, task, lambda i, s: s.update({metric: values[i]}) if i in values else None,
                     only_filter=filt)
        restate(run, task, metric, filt)
    return corrupt


def drop_lines(run: Path) -> None:
    edit_lines(run, MC, lambda ls: ls[:-3])


def torn_last_line(run: Path) -> None:
    edit_lines(run, MC, lambda ls: ls[:-1] + [ls[-1][: len(ls[-1]) // 2]])


def garbage_line(run: Path) -> None:
    edit_lines(run, MC, lambda ls: ls[:5] + ["{not json"] + ls[5:])


def duplicate_line(run: Path) -> None:
    edit_lines(run, MC, lambda ls: ls[:-1] + [ls[0]])


def duplicate_other_filter_line(run: Path) -> None:
    """A line of the secondary filter repeated: the primary filter's lines are intact, the log is not."""
    edit_lines(run, GEN, lambda ls: ls + [next(x for x in ls if json.loads(x)["filter"] == "strict-digits")])


def drop_other_filter_line(run: Path) -> None:
    lines_of = lambda ls: [x for x in ls if json.loads(x)["filter"] != "strict-digits"] + [  # noqa: E731
        x for x in ls if json.loads(x)["filter"] == "strict-digits"][:-1]
    edit_lines(run, GEN, lines_of)


def unknown_filter_lines(run: Path) -> None:
    """Lines of a filter the task's config does not have."""
    def extra(ls: list[str]) -> list[str]:
        return ls + [json.dumps({**json.loads(x), "filter": "made-up"}) for x in ls[:3]]
    edit_lines(run, MC, extra)


def edited_doc(run: Path) -> None:
    """A document's text edited after the fact: its doc_hash no longer matches it."""
    edit_samples(run, MC, lambda i, s: s["doc"].update(question="What colour is grass?") if i == 0 else None)


def edited_target(run: Path) -> None:
    edit_samples(run, GEN, lambda i, s: s.update(target="6") if i == 0 else None, only_filter="lenient")


def edited_prompt(run: Path) -> None:
    edit_samples(run, GEN, lambda i, s: s["arguments"]["gen_args_0"].update(arg_0="Q: What is 1 plus 1?\nA:")
                 if i == 1 else None, only_filter="lenient")


def unlisted_metric(run: Path) -> None:
    """A line whose list of metrics does not name the metric it carries (lm-eval lists every one)."""
    edit_samples(run, GEN, lambda i, s: s.update(metrics=["ewact_match"]) if i == 3 else None, only_filter="lenient")


def renamed_key(old: str, new: str, task: str = MC) -> Callable[[Path], None]:
    """A key of one line renamed (a flipped byte): the line is no longer what lm-eval wrote."""
    def rename(i: int, s: dict[str, Any]) -> None:
        if i == 2:
            if old in s:
                s[new] = s.pop(old)
            else:
                s["arguments"][new] = s["arguments"].pop(old)
    return lambda run: edit_samples(run, task, rename)


def edited_later_context(run: Path) -> None:
    edit_samples(run, MC, lambda i, s: s["arguments"]["gen_args_2"].update(arg_0="Question: x?\nAnswer:")
                 if i == 0 else None)


def task_twice_in_results(run: Path) -> None:
    """The results file names a task twice (JSON keeps the last silently): the first entry says 0.95."""
    p = results_file(run)
    text = p.read_text(encoding="utf-8")
    entry = json.dumps({**json.loads(text)["results"][MC], "acc,none": 0.95})
    p.write_text(text.replace('"results": {', '"results": {"' + MC + '": ' + entry + ", ", 1), encoding="utf-8")


def metric_twice_in_a_line(run: Path) -> None:
    """One per-sample line carries acc twice ({"acc": 0.5, "acc": 1.0}): which one did lm-eval score?"""
    def dup(ls: list[str]) -> list[str]:
        assert '"acc": ' in ls[0]
        return [ls[0].replace('"acc": ', '"acc": 0.5, "acc": ', 1)] + ls[1:]
    edit_lines(run, MC, dup)


def samples_of_another_run(run: Path) -> None:
    """The per-sample log carries another run's date_id than the results file (an older, complete run)."""
    p = samples_file(run, GEN)
    p.rename(p.with_name(f"samples_{GEN}_2000-01-01T00-00-00.000000.jsonl"))


def shrink_to_match(original_too: bool) -> Callable[[Path], None]:
    """Three documents dropped, and n-samples effective, sample_len (and `original`) edited to 17, the score
    restated: every count agrees, but lm-eval evaluates the whole dataset (no --limit), numbered from 0."""
    def corrupt(run: Path) -> None:
        edit_lines(run, MC, lambda ls: [x for x in ls if json.loads(x)["doc_id"] not in (5, 6, 7)])

        def fn(d: dict[str, Any]) -> None:
            d["n-samples"][MC]["effective"] = 17
            d["results"][MC]["sample_len"] = 17
            if original_too:
                d["n-samples"][MC]["original"] = 17
        edit_results(run, fn)
        restate(run, MC, "acc")
    return corrupt


def flip_and_restate(task: str, metric: str, filt: str, docs: tuple[int, ...]) -> Callable[[Path], None]:
    """Per-sample values flipped (0 <-> 1) and the results restated: a consistent forgery of the score that
    only the model's own recorded responses contradict."""
    def corrupt(run: Path) -> None:
        edit_samples(run, task, lambda i, s: s.update({metric: 1.0 - float(s[metric])}) if i in docs else None,
                     only_filter=filt)
        restate(run, task, metric, filt)
    return corrupt


def delete_samples(run: Path) -> None:
    samples_file(run, GEN).unlink()


def missing_counts(run: Path) -> None:
    edit_results(run, lambda d: d["n-samples"].pop(MC))


def inflate_expected(run: Path) -> None:
    edit_results(run, lambda d: d["n-samples"][MC].update(effective=25, original=25))


def strip_metric(run: Path) -> None:
    edit_samples(run, MC, lambda i, s: s.pop("acc") if i < 4 else None)


def edit_score(run: Path) -> None:
    edit_results(run, lambda d: d["results"][MC].update({"acc,none": 0.95}))


def percent_score(run: Path) -> None:
    edit_results(run, lambda d: d["results"][MC].update({"acc,none": d["results"][MC]["acc,none"] * 100}))


def na_score(run: Path) -> None:
    edit_results(run, lambda d: d["results"][MC].update({"acc,none": "N/A"}))


def nan_score(run: Path) -> None:
    edit_results(run, lambda d: d["results"][GEN].update({"exact_match,lenient": float("nan")}))


def edit_stderr(run: Path) -> None:
    edit_results(run, lambda d: d["results"][MC].update({"acc_stderr,none": 0.01}))


def na_stderr(run: Path) -> None:
    edit_results(run, lambda d: d["results"][MC].update({"acc_stderr,none": "N/A"}))


def set_stderr(value: Any) -> Callable[[Path], None]:
    return lambda run: edit_results(run, lambda d: d["results"][MC].update({"acc_stderr,none": value}))


def na_stderr_no_bootstrap(run: Path) -> None:
    """--bootstrap_iters 0: lm-eval writes "N/A" for every stderr (it computes none)."""
    edit_results(run, lambda d: (d["config"].update(bootstrap_iters=0),
                                 [d["results"][t].update({k: "N/A" for k in d["results"][t] if "_stderr," in k})
                                  for t in (MC, GEN)]))


def _blank(i: int, s: dict[str, Any]) -> None:
    s["resps"] = [[""] for _ in s["resps"]]
    s["filtered_resps"] = ["" for _ in s["filtered_resps"]]
    s["exact_match"] = 0.0


def blank_all_responses(run: Path) -> None:
    edit_samples(run, GEN, _blank)


INVISIBLE_ANSWERS = ("\u200b\u200b", "\ufeff", "\u200e\u202e\u2066", "\x00\x1b", "\u2060 \u00ad", "\u0301",
                     "\u3164", "\U000e0041")


def invisible_all_responses(run: Path) -> None:
    """Every completion prints nothing, though none is empty to str.strip()."""
    def invisible(i: int, s: dict[str, Any]) -> None:
        text = INVISIBLE_ANSWERS[i % len(INVISIBLE_ANSWERS)]
        s["resps"] = [[text] for _ in s["resps"]]
        s["filtered_resps"] = [text for _ in s["filtered_resps"]]
        s["exact_match"] = 0.0
    edit_samples(run, GEN, invisible)


def blank_most_responses(run: Path) -> None:
    edit_samples(run, GEN, lambda i, s: _blank(i, s) if i % 10 < 6 else None)  # 6 of 10 per filter


def null_loglik(run: Path) -> None:
    def null(i: int, s: dict[str, Any]) -> None:
        s["resps"] = [[[None, None]] for _ in s["resps"]]
    edit_samples(run, MC, null)


def nan_loglik(run: Path) -> None:
    def nan(i: int, s: dict[str, Any]) -> None:
        s["resps"] = [[["nan", "False"]] for _ in s["resps"]]
    edit_samples(run, MC, nan)


def invalid_extraction(run: Path) -> None:
    """The lenient filter extracted nothing (its fallback) and scored 0, as lm-eval would have."""
    edit_samples(run, GEN, lambda i, s: s.update(filtered_resps=["[invalid]"], exact_match=0.0), only_filter="lenient")
    restate(run, GEN, "exact_match", "lenient")


def running(run: Path) -> None:
    set_record(run, status="RUNNING", exit_code=None)


def running_and_dropped(run: Path) -> None:
    running(run)
    drop_lines(run)


def running_and_edited(run: Path) -> None:
    running(run)
    edit_score(run)


def running_without_counts(run: Path) -> None:
    """lm-eval writes the results file, then the per-sample logs: caught in between, a task has no count yet."""
    running(run)
    delete_samples(run)


def running_with_counts_missing_and_an_edited_score(run: Path) -> None:
    running_without_counts(run)
    edit_score(run)


def success_with_error(run: Path) -> None:
    set_record(run, status="SUCCESS", exit_code=0, error="RuntimeError: CUDA error: an illegal instruction")


def success_with_transient_error(run: Path) -> None:
    set_record(run, status="SUCCESS", exit_code=0, error="ConnectionResetError: [Errno 104] Connection reset by peer")


def killed(run: Path) -> None:
    set_record(run, status="KILLED", exit_code=-9, error="lm-eval was killed by signal 9 (SIGKILL)")


def killed_before_results(run: Path) -> None:
    killed(run)
    shutil.rmtree(results_file(run).parent)


def failed_by_signal(code: int) -> Callable[[Path], None]:
    """A runner that records a signal death as FAILED with the negative exit code and the log tail."""
    return lambda run: set_record(run, status="FAILED", exit_code=code,
                                  error="Running loglikelihood requests\n 45%|####5     | 9/20")


def error_status(run: Path) -> None:
    set_record(run, status="ERROR", exit_code=1, error="ValueError: unknown task 'x'")


def timeout(run: Path) -> None:
    set_record(run, status="TIMEOUT", exit_code=None, error="walltime exceeded")


def failed_connection(run: Path) -> None:
    set_record(run, status="FAILED", exit_code=1,
               error="requests.exceptions.ConnectionError: [Errno 111] Connection refused")


def failed_unknown(run: Path) -> None:
    set_record(run, status="FAILED", exit_code=1, error="KeyError: 'foo'")


def cancelled(run: Path) -> None:
    set_record(run, status="CANCELLED", exit_code=None, error=None)


def success_nonzero_exit(run: Path) -> None:
    set_record(run, exit_code=1)


def no_record(run: Path) -> None:
    (run / "run.json").unlink()


def nothing_at_all(run: Path) -> None:
    no_record(run)
    shutil.rmtree(results_file(run).parent)


def success_without_results(run: Path) -> None:
    shutil.rmtree(results_file(run).parent)


def truncated_results(run: Path) -> None:
    p = results_file(run)
    p.write_bytes(p.read_bytes()[:500])


def acc_lower_is_better(run: Path) -> None:
    """The task's config and results call acc lower-is-better: compare would read a drop as a gain."""
    def fn(d: dict[str, Any]) -> None:
        d["higher_is_better"][MC]["acc"] = False
        d["configs"][MC]["metric_list"][0]["higher_is_better"] = False
    edit_results(run, fn)


def older_results_alongside(run: Path) -> None:
    """A failed earlier run left older files in the directory: the newest results are read."""
    newest = results_file(run)
    (newest.parent / "results_2000-01-01T00-00-00.000000.json").write_text("{garbage", encoding="utf-8")


# name -> (corruption, expected failure_class; None = the gate passes)
CASES: dict[str, tuple[Callable[[Path], None], Optional[str]]] = {
    "pristine": (lambda run: None, None),
    "no_run_record_inferred_success": (no_record, None),
    "reported_stderr_na_where_lm_eval_computes_one": (na_stderr, "REPORTED_MISMATCH"),
    "reported_stderr_na_without_bootstrap": (na_stderr_no_bootstrap, None),
    "older_results_alongside": (older_results_alongside, None),
    "dropped_sample_lines": (drop_lines, "SAMPLE_ACCOUNTING_FAILED"),
    "doc_id_as_string_and_float": (respell_doc_ids({18: str, 19: float}), "SAMPLE_ACCOUNTING_FAILED"),
    "doc_id_padded_and_boolean": (respell_doc_ids({17: lambda j: f" {j}", 16: lambda j: True}),
                                  "SAMPLE_ACCOUNTING_FAILED"),
    "acc_2_and_minus_1": (out_of_domain({0: 2.0, 2: -1.0}), "SAMPLE_ACCOUNTING_FAILED"),
    "acc_halves": (out_of_domain({0: 0.5, 2: 0.5}), "SAMPLE_ACCOUNTING_FAILED"),
    "acc_1e308": (lambda run: edit_samples(run, MC, lambda i, s: s.update(acc=1e308) if i == 0 else None),
                  "SAMPLE_ACCOUNTING_FAILED"),
    "exact_match_above_1": (out_of_domain({0: 1.5, 1: -0.5}, GEN, "exact_match", "lenient"),
                            "SAMPLE_ACCOUNTING_FAILED"),
    "torn_last_sample_line": (torn_last_line, "SAMPLE_ACCOUNTING_FAILED"),
    "garbage_sample_line": (garbage_line, "SAMPLE_ACCOUNTING_FAILED"),
    "duplicated_sample_line": (duplicate_line, "SAMPLE_ACCOUNTING_FAILED"),
    "duplicated_line_of_another_filter": (duplicate_other_filter_line, "SAMPLE_ACCOUNTING_FAILED"),
    "dropped_line_of_another_filter": (drop_other_filter_line, "SAMPLE_ACCOUNTING_FAILED"),
    "lines_of_an_unknown_filter": (unknown_filter_lines, "SAMPLE_ACCOUNTING_FAILED"),
    "doc_edited_after_hashing": (edited_doc, "SAMPLE_ACCOUNTING_FAILED"),
    "target_edited_after_hashing": (edited_target, "SAMPLE_ACCOUNTING_FAILED"),
    "prompt_edited_after_hashing": (edited_prompt, "SAMPLE_ACCOUNTING_FAILED"),
    "metric_not_listed_in_its_line": (unlisted_metric, "SAMPLE_ACCOUNTING_FAILED"),
    "task_twice_in_results": (task_twice_in_results, "SAMPLE_ACCOUNTING_FAILED"),
    "metric_twice_in_a_line": (metric_twice_in_a_line, "SAMPLE_ACCOUNTING_FAILED"),
    "samples_of_another_run": (samples_of_another_run, "SAMPLE_ACCOUNTING_FAILED"),
    "documents_dropped_counts_edited": (shrink_to_match(False), "SAMPLE_ACCOUNTING_FAILED"),
    "acc_flipped_and_restated": (flip_and_restate(MC, "acc", "none", (2, 5, 11)), "REPORTED_MISMATCH"),
    "exact_match_flipped_and_restated": (flip_and_restate(GEN, "exact_match", "lenient", (0, 4)), "REPORTED_MISMATCH"),
    "more_lines_than_n_samples_same_documents": (lambda run: edit_lines(run, MC, lambda ls: ls + ls[:2]),
                                                 "SAMPLE_ACCOUNTING_FAILED"),
    "documents_dropped_all_counts_edited": (shrink_to_match(True), "SAMPLE_ACCOUNTING_FAILED"),
    "hash_key_renamed": (renamed_key("prompt_hash", "prompf_hash"), "SAMPLE_ACCOUNTING_FAILED"),
    "arguments_key_renamed": (renamed_key("gen_args_1", "gen_args_{"), "SAMPLE_ACCOUNTING_FAILED"),
    "unknown_key_added": (lambda run: edit_samples(run, MC, lambda i, s: s.update(note="fixed by hand") if i == 0
                                                   else None), "SAMPLE_ACCOUNTING_FAILED"),
    "samples_file_missing": (delete_samples, "SAMPLE_ACCOUNTING_FAILED"),
    "n_samples_missing": (missing_counts, "SAMPLE_ACCOUNTING_FAILED"),
    "n_samples_inflated": (inflate_expected, "SAMPLE_ACCOUNTING_FAILED"),
    "metric_missing_in_samples": (strip_metric, "SAMPLE_ACCOUNTING_FAILED"),
    "success_without_results": (success_without_results, "SAMPLE_ACCOUNTING_FAILED"),
    "truncated_results": (truncated_results, "SAMPLE_ACCOUNTING_FAILED"),
    "edited_reported_score": (edit_score, "REPORTED_MISMATCH"),
    "reported_score_percent": (percent_score, "REPORTED_MISMATCH"),
    "reported_score_na_string": (na_score, "REPORTED_MISMATCH"),
    "reported_score_nan": (nan_score, "REPORTED_MISMATCH"),
    "edited_reported_stderr": (edit_stderr, "REPORTED_MISMATCH"),
    "acc_claims_lower_is_better": (acc_lower_is_better, "REPORTED_MISMATCH"),
    "negative_reported_stderr": (set_stderr(-0.09933992677987828), "REPORTED_MISMATCH"),
    "nan_reported_stderr": (set_stderr(float("nan")), "REPORTED_MISMATCH"),
    "infinite_reported_stderr": (set_stderr(float("inf")), "REPORTED_MISMATCH"),
    "string_reported_stderr": (set_stderr("0.0993"), "REPORTED_MISMATCH"),
    "blank_all_responses": (blank_all_responses, "INFERENCE_FAILED"),
    "blank_most_responses": (blank_most_responses, "INFERENCE_FAILED"),
    "invisible_all_responses": (invisible_all_responses, "INFERENCE_FAILED"),
    "null_logliks": (null_loglik, "INFERENCE_FAILED"),
    "nan_logliks": (nan_loglik, "INFERENCE_FAILED"),
    "answers_not_extracted": (invalid_extraction, "EVAL_JUDGE_FAILED"),
    "running": (running, "INFRA_TRANSIENT"),
    "timeout": (timeout, "INFRA_TRANSIENT"),
    "running_without_counts": (running_without_counts, "INFRA_TRANSIENT"),
    "running_without_counts_and_edited_score": (running_with_counts_missing_and_an_edited_score,
                                                "REPORTED_MISMATCH"),
    "success_with_error": (success_with_error, "UNKNOWN"),
    "success_with_transient_error": (success_with_transient_error, "INFRA_TRANSIENT"),
    "killed": (killed, "INFRA_TRANSIENT"),
    "killed_before_results": (killed_before_results, "INFRA_TRANSIENT"),
    "failed_by_sigkill": (failed_by_signal(-9), "INFRA_TRANSIENT"),
    "failed_by_sigterm": (failed_by_signal(-15), "INFRA_TRANSIENT"),
    "error_status": (error_status, "UNKNOWN"),
    "running_with_dropped_lines": (running_and_dropped, "SAMPLE_ACCOUNTING_FAILED"),
    "running_with_edited_score": (running_and_edited, "REPORTED_MISMATCH"),
    "failed_connection_refused": (failed_connection, "INFRA_TRANSIENT"),
    "failed_unclassifiable": (failed_unknown, "UNKNOWN"),
    "cancelled_without_error": (cancelled, "UNKNOWN"),
    "success_with_nonzero_exit": (success_nonzero_exit, "UNKNOWN"),
    "no_record_no_results": (nothing_at_all, "UNKNOWN"),
}


# ---------------------------------------------------------------- corpus-level aggregates

CORPUS_OUTPUT = Path(__file__).resolve().parent / "fixtures" / "lmeval_corpus_output"
F1, MCC, BLEU, PPL, BPB, CLOZE = ("conductor_tiny_f1", "conductor_tiny_mcc", "conductor_tiny_bleu",
                                  "conductor_tiny_ppl", "conductor_tiny_bpb", "conductor_tiny_cloze")
CORPUS_TASKS = (F1, MCC, BLEU, PPL, BPB, CLOZE)


def restate_corpus(run: Path, task: str, metric: str, aggregation: str) -> None:
    """Rewrite the reported score from the (edited) per-sample items with lm-eval's own aggregation, and its
    stderr as lm-eval's "N/A" (what it writes when it does not bootstrap): only the items can give it away."""
    import lm_eval.api.metrics  # noqa: F401  (fills the registry)
    from lm_eval.api.registry import AGGREGATION_REGISTRY

    lines = [json.loads(x) for x in samples_file(run, task).read_text(encoding="utf-8").splitlines()]
    score = float(AGGREGATION_REGISTRY.get(aggregation)([x[metric] for x in lines]))
    # the stderr restated as lm-eval's "N/A" (it writes that when it does not bootstrap): only the items remain
    edit_results(run, lambda d: d["results"][task].update({f"{metric},none": score, f"{metric}_stderr,none": "N/A"}))


def set_item(task: str, metric: str, values: dict[int, Any], restate_with: Optional[str] = None
             ) -> Callable[[Path], None]:
    """Set per-sample items (line i -> item) of `metric`; restate the score with lm-eval when asked."""
    def corrupt(run: Path) -> None:
        edit_samples(run, task, lambda i, s: s.update({metric: values[i]}) if i in values else None)
        if restate_with:
            restate_corpus(run, task, metric, restate_with)
    return corrupt


def scale_result(task: str, key: str, factor: float) -> Callable[[Path], None]:
    return lambda run: edit_results(run, lambda d: d["results"][task].update({key: d["results"][task][key] * factor}))


def set_result(task: str, key: str, value: Any) -> Callable[[Path], None]:
    return lambda run: edit_results(run, lambda d: d["results"][task].update({key: value}))


def flip_direction(task: str, metric: str) -> Callable[[Path], None]:
    """The task's config and results say the metric is higher-is-better (a perplexity!)."""
    def corrupt(run: Path) -> None:
        def fn(d: dict[str, Any]) -> None:
            d["higher_is_better"][task][metric] = True
            for m in d["configs"][task]["metric_list"]:
                if m["metric"] == metric:
                    m["higher_is_better"] = True
        edit_results(run, fn)
    return corrupt


def drop_aggregation_name(task: str) -> Callable[[Path], None]:
    """A config that names an aggregation lm-eval does not register."""
    def fn(d: dict[str, Any]) -> None:
        d["configs"][task]["metric_list"][0]["aggregation"] = "my_custom_corpus_metric"
    return lambda run: edit_results(run, fn)


def only_task(run: Path, task: str) -> None:
    """Keep one task of the run (its results entries and its per-sample log): a smaller, still real run."""
    def fn(d: dict[str, Any]) -> None:
        for key in ("results", "configs", "versions", "n-shot", "higher_is_better", "n-samples"):
            d[key] = {k: v for k, v in d.get(key, {}).items() if k == task}
    edit_results(run, fn)
    for other in CORPUS_TASKS:
        if other != task:
            samples_file(run, other).unlink()


# name -> (the task it corrupts, corruption, expected failure_class; None = the gate passes)
CORPUS_CASES: dict[str, tuple[str, Callable[[Path], None], Optional[str]]] = {
    **{f"pristine_{t}": (t, lambda run: None, None) for t in CORPUS_TASKS},
    "f1_pred_flipped": (F1, set_item(F1, "f1", {0: [1, 0], 3: [0, 1]}), "REPORTED_MISMATCH"),
    "f1_item_not_a_pair": (F1, set_item(F1, "f1", {2: "yes"}), "SAMPLE_ACCOUNTING_FAILED"),
    "f1_pred_flipped_and_restated": (F1, set_item(F1, "f1", {0: [1, 0], 1: [0, 1]}, restate_with="f1"),
                                     "REPORTED_MISMATCH"),
    "bleu_prediction_edited_and_restated": (BLEU, set_item(BLEU, "bleu", {2: [" the sun is warm today",
                                                                              " the sun is warm today"]},
                                                           restate_with="bleu"), "REPORTED_MISMATCH"),
    "perplexity_item_edited_and_restated": (CLOZE, set_item(CLOZE, "perplexity", {3: -0.5},
                                                            restate_with="perplexity"), "REPORTED_MISMATCH"),
    "word_count_edited_and_restated": (PPL, set_item(PPL, "word_perplexity", {0: [-85.97203063964844, 90]},
                                                     restate_with="weighted_perplexity"), "REPORTED_MISMATCH"),
    "f1_item_boolean_labels": (F1, set_item(F1, "f1", {2: [True, False]}), "SAMPLE_ACCOUNTING_FAILED"),
    "mcc_gold_not_a_choice": (MCC, set_item(MCC, "mcc", {0: [-100, 1]}, restate_with="matthews_corrcoef"),
                              "SAMPLE_ACCOUNTING_FAILED"),
    "mcc_reported_above_1": (MCC, set_result(MCC, "mcc,none", 1.5), "REPORTED_MISMATCH"),
    "mcc_item_missing": (MCC, lambda run: edit_samples(run, MCC, lambda i, s: s.pop("mcc") if i == 4 else None),
                         "SAMPLE_ACCOUNTING_FAILED"),
    "bleu_prediction_a_number": (BLEU, set_item(BLEU, "bleu", {1: [" a dog runs in the park", 7]}),
                                 "SAMPLE_ACCOUNTING_FAILED"),
    "bleu_edited": (BLEU, scale_result(BLEU, "bleu,none", 1.01), "REPORTED_MISMATCH"),
    "bleu_stderr_edited": (BLEU, scale_result(BLEU, "bleu_stderr,none", 1.05), "REPORTED_MISMATCH"),
    "word_perplexity_edited": (PPL, scale_result(PPL, "word_perplexity,none", 0.999), "REPORTED_MISMATCH"),
    "word_perplexity_nan": (PPL, set_result(PPL, "word_perplexity,none", float("nan")), "REPORTED_MISMATCH"),
    "word_perplexity_positive_loglik": (PPL, set_item(PPL, "word_perplexity", {0: [85.97, 9]},
                                                      restate_with="weighted_perplexity"), "SAMPLE_ACCOUNTING_FAILED"),
    "word_perplexity_negative_count": (PPL, set_item(PPL, "word_perplexity", {0: [-85.97, -9]},
                                                     restate_with="weighted_perplexity"), "SAMPLE_ACCOUNTING_FAILED"),
    "bits_per_byte_reported_negative": (BPB, set_result(BPB, "bits_per_byte,none", -4.0), "REPORTED_MISMATCH"),
    "bits_per_byte_claims_higher_is_better": (BPB, flip_direction(BPB, "bits_per_byte"), "REPORTED_MISMATCH"),
    "perplexity_below_1": (CLOZE, set_result(CLOZE, "perplexity,none", 0.5), "REPORTED_MISMATCH"),
    "perplexity_stderr_shrunk": (CLOZE, scale_result(CLOZE, "perplexity_stderr,none", 0.01), "REPORTED_MISMATCH"),
    "perplexity_stderr_grown": (CLOZE, scale_result(CLOZE, "perplexity_stderr,none", 100.0), "REPORTED_MISMATCH"),
    "perplexity_stderr_negative": (CLOZE, scale_result(CLOZE, "perplexity_stderr,none", -1.0), "REPORTED_MISMATCH"),
    "perplexity_claims_higher_is_better": (CLOZE, flip_direction(CLOZE, "perplexity"), "REPORTED_MISMATCH"),
    "unknown_aggregation": (MCC, drop_aggregation_name(MCC), "SAMPLE_ACCOUNTING_FAILED"),
}
