"""verbosity gate, issue 9 item 15: per task, on matched documents, with the weighted total reported.

Hostile cases that passed before: sides answering different documents (a --limit on one side) were
averaged anyway; a task that got longer and another that got shorter cancelled out in the average.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gates.verbosity.decide import decide
from gates.verbosity.models import VerbosityFacts
from tests import eval_run_cases as E

REPO = Path(__file__).resolve().parents[2]
GEN2 = "conductor_tiny_gen2"


def cli(*args: str) -> tuple[int, dict[str, Any]]:
    p = subprocess.run([sys.executable, "-m", "gates.verbosity", *args], capture_output=True, text=True, cwd=REPO,
                       timeout=120)
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    return p.returncode, json.loads(p.stdout)


def pad(words: int):
    """Every completion of the task becomes `words` whitespace words (the fixture counts words)."""
    def apply(i: int, s: dict[str, Any]) -> None:
        s["resps"] = [[" " + " ".join(["5"] * words)] for _ in s["resps"]]
    return apply


def add_gen_copy(run: Path) -> None:
    """A second generative task: conductor_tiny_gen's results, config and per-sample log under another name."""
    def results(d: dict[str, Any]) -> None:
        for key in ("results", "configs", "n-samples", "n-shot", "higher_is_better", "versions"):
            if isinstance(d.get(key), dict) and E.GEN in d[key]:
                entry = json.loads(json.dumps(d[key][E.GEN]).replace(E.GEN, GEN2))
                d[key][GEN2] = entry
    E.edit_results(run, results)
    src = E.samples_file(run, E.GEN)
    (src.parent / src.name.replace(E.GEN, GEN2)).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")


def keep_first_docs(n: int):
    """The run as if the generative task's dataset had n documents: complete, but fewer documents."""
    def apply(run: Path) -> None:
        E.edit_lines(run, E.GEN, lambda ls: [ln for ln in ls if json.loads(ln)["doc_id"] < n])
        E.edit_results(run, lambda d: (d["n-samples"][E.GEN].update(effective=n, original=n),
                                       d["results"][E.GEN].update(sample_len=n)))
        for filt in ("lenient", "strict-digits"):  # the scores restated: a run eval_run accepts
            E.restate(run, E.GEN, "exact_match", filt)
    return apply


def pair(tmp_path: Path) -> tuple[Path, Path]:
    b, c = E.copy_run(E.REAL_OUTPUT, tmp_path / "base"), E.copy_run(E.REAL_OUTPUT, tmp_path / "cand")
    E.set_record(c, model_identity="/m/candidate-fp8")
    return b, c


def test_control_the_same_real_answers_pass(tmp_path: Path) -> None:
    b, c = pair(tmp_path)
    code, v = cli("--artifacts", str(b), str(c))
    assert code == 0, v["detail"]
    r = v["evidence"]["tasks"][0]
    assert r["task"] == E.GEN and r["matched_documents"] == 10 and r["relative_difference"] == 0.0


def test_sides_that_answered_different_documents_are_not_comparable(tmp_path: Path) -> None:
    b, c = pair(tmp_path)
    keep_first_docs(5)(c)
    code, v = cli("--artifacts", str(b), str(c))
    assert code == 1 and v["failure_class"] == "COMPARISON_NOT_LIKE_FOR_LIKE", v["detail"]
    r = next(r for r in v["evidence"]["tasks"] if r["task"] == E.GEN)
    assert r["matched_documents"] == 5 and r["baseline_only"] == 5 and r["candidate_only"] == 0
    assert r["verdict"] == "NOT_COMPARABLE"


def test_a_longer_task_and_a_shorter_one_do_not_cancel_out(tmp_path: Path) -> None:
    b, c = pair(tmp_path)
    for run in (b, c):
        add_gen_copy(run)
    E.edit_samples(b, E.GEN, pad(3))
    E.edit_samples(b, GEN2, pad(3))
    E.edit_samples(c, E.GEN, pad(4))  # +33%
    E.edit_samples(c, GEN2, pad(2))  # -33%
    code, v = cli("--artifacts", str(b), str(c))
    assert code == 1 and v["failure_class"] == "VERBOSITY_EXCEEDED", v["detail"]
    assert v["evidence"]["total"]["relative_difference"] == pytest.approx(0.0)  # the total alone would pass
    rows = {r["task"]: r for r in v["evidence"]["tasks"]}
    assert rows[E.GEN]["verdict"] == "LONGER" and rows[GEN2]["verdict"] == "SHORTER"


def test_a_candidate_longer_on_every_task_fails_on_the_total_too(tmp_path: Path) -> None:
    b, c = pair(tmp_path)
    E.edit_samples(c, E.GEN, pad(2))
    code, v = cli("--artifacts", str(b), str(c))
    assert code == 1 and v["failure_class"] == "VERBOSITY_EXCEEDED"
    assert v["evidence"]["total"]["relative_difference"] > 0.5


def test_an_incomplete_side_is_sample_accounting(tmp_path: Path) -> None:
    b, c = pair(tmp_path)
    E.edit_lines(c, E.GEN, lambda ls: [ln for ln in ls if json.loads(ln)["doc_id"] < 8])  # 8 of 10, n-samples 10
    code, v = cli("--artifacts", str(b), str(c))
    assert code == 1 and v["failure_class"] == "SAMPLE_ACCOUNTING_FAILED", v["detail"]


# ------------------------------------------------------------------ facts

def side(tasks: dict[str, dict[str, float]], method: str = "tokenizer") -> dict[str, Any]:
    return {"tasks": {name: {"avg_completion_tokens": sum(docs.values()) / len(docs), "samples": len(docs),
                             "complete": True, "token_count_method": method, "doc_tokens": docs}
                      for name, docs in tasks.items()}}


def verdict(base: dict[str, Any], cand: dict[str, Any], **kw: Any):
    return decide(VerbosityFacts.model_validate({"baseline": base, "candidate": cand, **kw}))


def test_facts_cancellation_across_tasks_fails() -> None:
    docs = {str(i): 100.0 for i in range(50)}
    v = verdict(side({"a": docs, "b": docs}), side({"a": {k: 130.0 for k in docs}, "b": {k: 70.0 for k in docs}}))
    assert v.failure_class.value == "VERBOSITY_EXCEEDED"
    assert {c.name for c in v.checks if not c.passed} == {"tasks_within_tolerance"}


def test_facts_with_unmatched_documents_are_not_comparable() -> None:
    v = verdict(side({"a": {"0": 10.0, "1": 10.0}}), side({"a": {"0": 10.0, "2": 10.0}}))
    assert v.failure_class.value == "COMPARISON_NOT_LIKE_FOR_LIKE" and "1 baseline-only" in v.detail


def test_facts_without_per_document_counts_are_not_comparable() -> None:
    base = side({"a": {"0": 10.0, "1": 12.0}})
    del base["tasks"]["a"]["doc_tokens"]
    v = verdict(base, side({"a": {"0": 10.0, "1": 12.0}}))
    assert v.failure_class.value == "COMPARISON_NOT_LIKE_FOR_LIKE" and "per-document" in v.detail


def test_per_document_counts_must_agree_with_the_sides_average_and_samples() -> None:
    base = side({"a": {"0": 10.0, "1": 12.0}})
    base["tasks"]["a"]["avg_completion_tokens"] = 50.0
    with pytest.raises(ValueError, match="doc_tokens"):
        VerbosityFacts.model_validate({"baseline": base, "candidate": side({"a": {"0": 10.0, "1": 12.0}})})
    base = side({"a": {"0": 10.0, "1": 12.0}})
    base["tasks"]["a"]["samples"] = 1  # two documents answered of one scored
    with pytest.raises(ValueError, match="doc_tokens"):
        VerbosityFacts.model_validate({"baseline": base, "candidate": side({"a": {"0": 10.0, "1": 12.0}})})


def test_the_matched_comparison_ignores_nothing_it_reports() -> None:
    v = verdict(side({"a": {"0": 10.0, "1": 10.0}, "b": {"0": 30.0}}),
                side({"a": {"0": 10.2, "1": 10.0}, "b": {"0": 30.0}}))
    assert v.passed, v.detail
    total = v.evidence["total"]
    assert total["matched_documents"] == 3 and total["baseline_avg_tokens"] == pytest.approx(50 / 3)
    assert [r["verdict"] for r in v.evidence["tasks"]] == ["OK", "OK"]


# ---------------------------------------------------- hostile hunt: nothing evaluated is not "not applicable"

@pytest.mark.parametrize("record", [None, {"status": "RUNNING"}, {"status": "FAILED", "error": "boom"}])
def test_two_runs_without_results_are_not_a_not_applicable_pass(tmp_path: Path, record: Any) -> None:
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        if record is not None:
            (tmp_path / side / "run.json").write_text(json.dumps(record), encoding="utf-8")
    code, v = cli("--artifacts", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 1 and v["failure_class"] == "SAMPLE_ACCOUNTING_FAILED", v["detail"]


def test_runs_with_only_loglikelihood_tasks_are_a_stated_not_applicable_pass(tmp_path: Path) -> None:
    b, c = pair(tmp_path)
    for run in (b, c):
        E.edit_results(run, lambda d: [d[k].pop(E.GEN, None) for k in ("results", "configs", "n-samples", "n-shot",
                                                                         "higher_is_better", "versions") if k in d])
        E.samples_file(run, E.GEN).unlink()
    code, v = cli("--artifacts", str(b), str(c))
    assert code == 0 and "not applicable" in v["detail"], v["detail"]


def test_facts_that_do_not_say_what_was_evaluated_are_not_a_pass() -> None:
    v = verdict({"tasks": {}}, {"tasks": {}})
    assert v.failure_class.value == "SAMPLE_ACCOUNTING_FAILED"
    v = verdict({"tasks": {}, "run_tasks": ["mc"]}, {"tasks": {}, "run_tasks": ["mc"]})
    assert v.passed and "not applicable" in v.detail
    v = verdict({"tasks": {}, "run_tasks": ["mc"]}, {"tasks": {}, "run_tasks": []})
    assert v.failure_class.value == "SAMPLE_ACCOUNTING_FAILED"
