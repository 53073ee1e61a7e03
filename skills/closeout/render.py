"""report.md from the report dict (`report.build_report`): the same rows as report.json, for people."""

from __future__ import annotations

from typing import Any, Optional


def md(text: Any) -> str:
    """One table cell or inline text: whitespace collapsed, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def num(v: Any, digits: int = 4, signed: bool = False) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return "n/a"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def nbytes(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int):
        return "n/a"
    return f"{v / 2**20:,.1f} MiB ({v:,} bytes)"


def yes_no(v: Optional[bool]) -> str:
    return "n/a" if v is None else ("yes" if v else "no")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(md(c) for c in r) + " |" for r in rows]]


def _title(r: dict[str, Any]) -> list[str]:
    d, rec = r["decision"], r["recommendation"]
    return [f"# {r['model']} · {r['recipe']}: {d['decision']} (exit {d['exit_code']}) — {rec['verdict']}", "",
            f"**Recommendation: {rec['verdict']}.** {rec['why']}", ""]


def _decision(r: dict[str, Any]) -> list[str]:
    d = r["decision"]
    lines = ["## Decision", "", f"- decision: **{d['decision']}** (exit code {d['exit_code']})",
             f"- reason: {md(d.get('reason') or '')}"]
    if d.get("failure_class"):
        lines.append(f"- failure class: `{d['failure_class']}` at stage `{d.get('stage')}`")
    thr = r["threshold"]
    lines += [f"- tasks: {', '.join(f'`{t}`' for t in r['tasks'])}; threshold {thr['value']} ({thr['kind']})", ""]
    return lines


def _size(r: dict[str, Any]) -> list[str]:
    s = r.get("size")
    lines = ["## Size", ""]
    if not s:
        return lines + ["No ptq verdict is on record: the checkpoint was not quantized in this run.", ""]
    if s.get("size_ratio") is None:
        lines.append("- the ptq verdict on record carries no size figures")
    else:
        lines += [f"- size ratio (export / source weight bytes): **{num(s.get('size_ratio'), 3)}x**"
                  + (f" (the recipe estimates {num(s['estimated_ratio'], 3)}x)" if s.get("estimated_ratio") else ""),
                  f"- source weights: {nbytes(s.get('source_weight_bytes'))}; export weights: "
                  f"{nbytes(s.get('export_weight_bytes'))}",
                  f"- files on disk: source {nbytes(s.get('source_file_bytes'))}, "
                  f"export {nbytes(s.get('export_file_bytes'))}"]
    if s.get("quantized_matrices") is not None:
        lines.append(f"- quantized weight matrices: {s.get('quantized_matrices')} of {s.get('matrices')}")
    if not s.get("gate_passed"):
        lines.append(f"- the ptq gate FAILED on this export ({s.get('failure_class')})")
    return lines + [""]


def _tasks(r: dict[str, Any]) -> list[str]:
    c = r.get("compare")
    lines = ["## Per task", ""]
    if not c:
        return lines + ["No comparison was made in this run (no compare verdict is on record).", ""]
    rows = [[t["task"], num(t["baseline"]), num(t["candidate"]), num(t["delta"], signed=True), num(t["stderr_diff"]),
             num(t["threshold"]), yes_no(t["within"]), t["verdict"]] for t in c["tasks"]]
    if rows:
        lines += _table(["task", "baseline", "candidate", "delta", "stderr of diff", "threshold (allowed drop)",
                         "within", "verdict"], rows)
        lines += ["", "Scores on the unit scale (0-1), re-derived from the per-sample logs by the compare gate; "
                      "delta is candidate minus baseline (improvement); the threshold is the allowed drop."]
        notes = []
        for t in c["tasks"]:
            if t.get("within") is False and t.get("mde") is not None and t.get("significant_drop") is not None:
                drop = -(t.get("delta") or 0.0)
                if t["significant_drop"]:
                    notes.append(f"- {t['task']}: the drop {num(drop)} is beyond the threshold and also beyond the "
                                 f"noise (z·se {num(t['mde'])}): a real loss at this confidence.")
                else:
                    notes.append(f"- {t['task']}: the drop {num(drop)} is beyond the threshold but within the noise "
                                 f"(z·se {num(t['mde'])}): the release rule blocks on the measured drop; more samples "
                                 "would tell whether it is real.")
        lines += [""] + notes if notes else []
    else:
        lines.append("The compare verdict on record carries no per-task table.")
    thr = c.get("threshold") or r["threshold"]
    lines += ["", f"Compare gate: **{'PASS' if c['passed'] else 'FAIL'}**"
                  + (f" ({c['failure_class']})" if c.get("failure_class") else "")
                  + f", {thr.get('kind', '?')} threshold {thr.get('value', '?')}: {md(c['detail'])}", ""]
    return lines


def _gates(r: dict[str, Any]) -> list[str]:
    lines = ["## Gate verdicts", ""]
    if not r["gates"]:
        return lines + ["No gate ran in this run.", ""]
    rows = [[g["stage"], g["attempt"] if g["attempt"] is not None else "", g["gate"], "PASS" if g["pass"] else "FAIL",
             g["failure_class"] or "", md(g["detail"])[:400]] for g in r["gates"]]
    return lines + _table(["stage", "attempt", "gate", "verdict", "failure_class", "detail"], rows) + [""]


def _side(name: str, s: dict[str, Any]) -> list[Any]:
    few = ", ".join(f"{t}: {n}" for t, n in s["num_fewshot"].items()) or "n/a"
    return [name, s["how"], yes_no(s.get("served")), s.get("evaluated") or "n/a", few, yes_no(s.get("used_cache")),
            {True: "PASS", False: "FAIL", None: "n/a"}[s.get("eval_run_passed")]]


def _fidelity(f: Any) -> list[str]:
    """The in-process candidate checked against the export's own tensors (skills/evaluate/fidelity.py)."""
    if not isinstance(f, dict) or f.get("checked") is None:
        return []
    head = (f"- export fidelity (the model evaluated in-process against the export's own tensors): "
            f"{f['checked']} tensor(s) compared, worst relative error {num(f.get('worst_relative_error'))}")
    if f.get("unchecked"):
        head += f", {f['unchecked']} not comparable here (packed formats)"
    return [head + ("; the evaluated weights are the export's, within that error" if f.get("ok") else
                    "; **the export does not hold the weights that were evaluated**")]


def _evaluation(r: dict[str, Any]) -> list[str]:
    e = r["evaluation"]
    lines = ["## What was evaluated, and how", ""]
    if e.get("not_served_note"):
        lines += [f"> **⚠ Candidate not served.** {md(e['not_served_note'])}", ""]
    if e["baseline"]["backend"] is None and e["candidate"]["backend"] is None:
        ran = [s for s in ("baseline", "candidate") if e[s].get("eval_run_passed") is not None]
        return lines + ([f"The eval_run facts of the {' and '.join(ran)} carry no evaluation settings: how "
                         "each side was evaluated is not on record.", ""] if ran else
                        ["Nothing was evaluated in this run (no eval_run verdict is on record).", ""])
    lines += _table(["side", "how", "via server", "model evaluated", "few-shot", "eval cache", "eval_run gate"],
                    [_side("baseline", e["baseline"]), _side("candidate", e["candidate"])])
    lines += ["", f"- lm-eval version: {e.get('lm_eval_version') or 'n/a'}",
              f"- tasks: {', '.join(f'`{t}`' for t in e['tasks'])}",
              f"- limit: {e['limit'] if e.get('limit') is not None else 'none (whole tasks)'}",
              *_fidelity(e.get("export_fidelity")),
              f"- chat template: {yes_no(e.get('apply_chat_template'))}; few-shot as multi-turn: "
              f"{yes_no(e.get('fewshot_as_multiturn'))}",
              f"- generation settings: {md(e.get('gen_kwargs')) if e.get('gen_kwargs') else 'task defaults'}"]
    if e.get("settings_diff"):
        lines.append("- settings that differ between the sides: " + "; ".join(
            f"{d.get('field')} ({d.get('baseline')!r} vs {d.get('candidate')!r})" for d in e["settings_diff"]))
    for side in ("baseline", "candidate"):
        if e[side].get("detail"):
            lines.append(f"- {side}: {md(e[side]['detail'])}")
    return lines + [""]


def _canary(r: dict[str, Any]) -> list[str]:
    c = r.get("canary")
    lines = ["## Canary", ""]
    if not c:
        return lines + ["No server was started in this run (no serve verdict is on record).", ""]
    if c.get("server_kind"):
        server = " ".join(x for x in (c["server_kind"], c.get("server_version")) if x)
        lines.append(f"{server} served `{c.get('model_requested')}`"
                     + (f", healthy after {c['time_to_healthy_s']} s." if c.get("time_to_healthy_s") is not None
                        else ", never healthy."))
    lines.append(f"Serve gate: **{'PASS' if c['passed'] else 'FAIL'}**"
                 + (f" ({c['failure_class']})" if c.get("failure_class") else "") + f": {md(c['detail'])}")
    if c["canaries"]:
        lines += [""] + _table(["prompt", "status", "completion"],
                               [[x.get("prompt"), x.get("status"), md(x.get("completion") or "")[:120]]
                                for x in c["canaries"]])
    return lines + [""]


def _attempts(r: dict[str, Any]) -> list[str]:
    lines = ["## Attempts, retries and repairs", ""]
    if not r["attempts"]:
        return lines + ["No skill attempt is on record.", ""]
    rows = []
    for s in r["attempts"]:
        steps = []
        for h in s["history"]:
            change = h.get("changed")
            how = ("" if change is None else " (retried unchanged)" if not change else
                   " (changed: " + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in change.items()) + ")")
            steps.append(f"#{h['attempt']}{how}: {h['outcome']}")
        rows.append([s["stage"], s["attempts"], "; ".join(steps)])
    lines += _table(["stage", "skill runs", "history"], rows)
    for a in r.get("approvals") or []:
        lines.append(f"- asked a person at {a.get('stage')}: {md(a.get('question') or '')[:200]} -> "
                     f"{a.get('answer')} ({a.get('by')})")
    return lines + [""]


def _environment(r: dict[str, Any]) -> list[str]:
    env = r.get("environment")
    lines = ["## Machine and versions (preflight)", ""]
    if not env:
        return lines + ["Preflight's record is not available.", ""]
    hw, v = env["hardware"], env["versions"]
    gpus = ", ".join(f"{g.get('name')} ({nbytes(g.get('memory_bytes'))})" for g in hw.get("cuda_devices") or [])
    mem = (hw.get("memory") or {}).get("total_bytes")
    lines += [f"- CUDA: {'available: ' + gpus if hw.get('cuda_available') else 'not available'}",
              f"- CPUs usable: {hw.get('cpus_usable')}; memory: {nbytes(mem)}; {hw.get('platform')}",
              "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val),
              f"- vLLM: {env.get('vllm_version') or ''} at {env['vllm_python']}" if env.get("vllm_python")
              else "- vLLM: not available on this machine",
              f"- source checkpoint: `{env.get('checkpoint')}`"]
    lines += [f"- note: {md(n)}" for n in env.get("notes") or []]
    return lines + [""]


def _footer(r: dict[str, Any]) -> list[str]:
    rec = r["records"]
    src = ("the seals and the gate verdicts recorded in transcript.jsonl" if rec["source"] == "transcript"
           else "the seals alone (no transcript)")
    lines = ["---", "", f"Every figure above comes from {src}, never from what the agent said. "
                        f"Sealed stages: {', '.join(rec['sealed_stages']) or 'none'}. The conductor writes "
                        "decision.json after this report."]
    lines += [f"- warning: {md(w)}" for w in rec.get("warnings") or []]
    return lines + [""]


def render_markdown(r: dict[str, Any]) -> str:
    parts = [_title, _decision, _size, _tasks, _gates, _evaluation, _canary, _attempts, _environment, _footer]
    return "\n".join(line for part in parts for line in part(r))
