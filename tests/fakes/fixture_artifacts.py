"""A skill process that lays down fixture artifacts instead of running modelopt, vLLM or lm-eval.

    python -m tests.fakes.fixture_artifacts OUT_DIR/fixture.json

The spec (JSON) says what to build in the attempt's folder, what to print, and the result.json
to write; the real gates then collect their facts from these artifacts exactly as they would from
the real tools' output. Used by scripts/record_transcripts.py. Standard library only (plus the
stdlib-only test fixture helpers), so a skill process starts fast.

Steps (each {"op": ..., "dst": path relative to the attempt folder, ...}):
  export    a modelopt-layout export of the source checkpoint (`source`, `recipe`; `left_bf16`:
            covered modules stored in bf16 with the declarations untouched, as a broken export)
  lmeval    a copy of the real lm-eval output in tests/fixtures/lmeval_real_output; for a candidate:
            `identity` (another model), `ll_scale` (every log-likelihood scaled: same choices,
            different numbers), `wrong_gen` (doc ids whose generated answer becomes wrong; the
            reported scores and stderrs are recomputed as lm-eval computes them), `record` (run.json
            fields), `corrupt` (a tests/eval_run_cases corruption applied last)
  json      `data` written as JSON
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from tests import eval_run_cases as cases
from tests.fixtures import checkpoints as ck

REAL_LMEVAL = cases.REAL_OUTPUT


# ---------------------------------------------------------------- checkpoints


def export(src: Path, dst: Path, recipe: str = "fp8", left_bf16: tuple[str, ...] = ()) -> Path:
    """What modelopt's export_hf_checkpoint writes for `recipe` over the source (headers only)."""
    cfg = ck.read_json(src / "config.json")
    cfg.pop("quantization_config", None)
    src_t = ck.llama_tensors(cfg, "BF16")
    tensors, excluded = ck.quantized_tensors(src_t, recipe)
    for module in left_bf16:  # the quantizer never ran on it, but the declaration says it did
        for suffix in ("weight_scale", "weight_scale_2", "input_scale", "pre_quant_scale"):
            tensors.pop(f"{module}.{suffix}", None)
        tensors[f"{module}.weight"] = src_t[f"{module}.weight"]
    return ck.write_synthetic_checkpoint(dst, cfg, tensors, quant=ck.hf_quant_config(ck.QUANT_ALGO[recipe], excluded))


def source(dst: Path) -> Path:
    """The source checkpoint: a tiny Llama (2 layers, hidden 64) in bf16, headers and zero weights."""
    cfg = ck.llama_config()
    return ck.write_synthetic_checkpoint(dst, cfg, ck.llama_tensors(cfg, "BF16"))


# ---------------------------------------------------------------- lm-eval output


def _sanitized(identity: str) -> str:
    return identity.replace("/", "__")


def _set_identity(run: Path, identity: str) -> None:
    old_dir = cases.results_file(run).parent
    old = json.loads((run / "run.json").read_text(encoding="utf-8"))["model_identity"]

    def results(d: dict[str, Any]) -> None:
        d["config"]["model_args"]["pretrained"] = identity
        d["model_name"], d["model_name_sanitized"] = identity, _sanitized(identity)

    cases.edit_results(run, results)
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    record["command"] = [a.replace(old, identity) for a in record["command"]]
    cases.set_record(run, model_identity=identity, command=record["command"])
    old_dir.rename(old_dir.with_name(_sanitized(identity)))


def _scale_logliks(run: Path, factor: float) -> None:
    """Every log-likelihood times `factor` (> 0): the argmax, hence acc and acc_norm, is unchanged."""
    def scale(i: int, s: dict[str, Any]) -> None:
        s["resps"] = [[[repr(float(ll) * factor), greedy] for ll, greedy in r] for r in s["resps"]]
        s["filtered_resps"] = [[repr(float(ll) * factor), greedy] for ll, greedy in s["filtered_resps"]]

    cases.edit_samples(run, cases.MC, scale)


def _wrong_answers(run: Path, doc_ids: list[int]) -> None:
    """The generated answer of these documents becomes a wrong number; scores recomputed."""
    def wrong(i: int, s: dict[str, Any]) -> None:
        if s["doc_id"] in doc_ids:
            answer = str((int(s["target"]) + 1) % 10)
            s["resps"] = [[f" {answer}"]]
            s["filtered_resps"] = [answer]
            s["exact_match"] = 0.0

    cases.edit_samples(run, cases.GEN, wrong)
    scores: dict[str, list[float]] = {}
    for line in cases.samples_file(run, cases.GEN).read_text(encoding="utf-8").splitlines():
        s = json.loads(line)
        scores.setdefault(s["filter"], []).append(s["exact_match"])

    def report(d: dict[str, Any]) -> None:
        for filt, xs in scores.items():
            mean = sum(xs) / len(xs)
            d["results"][cases.GEN][f"exact_match,{filt}"] = mean
            # lm-eval's stderr of a mean: the sample standard deviation over sqrt(n)
            d["results"][cases.GEN][f"exact_match_stderr,{filt}"] = math.sqrt(mean * (1 - mean) / (len(xs) - 1))

    cases.edit_results(run, report)


def lmeval(dst: Path, identity: str = "", ll_scale: float = 1.0, wrong_gen: tuple[int, ...] = (),
           record: dict[str, Any] | None = None, corrupt: str = "") -> Path:
    shutil.copytree(REAL_LMEVAL, dst)
    (dst / "README.txt").unlink()
    if identity:
        _set_identity(dst, identity)
    if ll_scale != 1.0:
        _scale_logliks(dst, ll_scale)
    if wrong_gen:
        _wrong_answers(dst, list(wrong_gen))
    if record:
        cases.set_record(dst, **record)
    if corrupt:
        getattr(cases, corrupt)(dst)
    return dst


# ---------------------------------------------------------------- the process


def build(step: dict[str, Any], out: Path) -> None:
    op, dst = step["op"], out / step["dst"]
    if op == "export":
        export(Path(step["source"]), dst, step.get("recipe", "fp8"), tuple(step.get("left_bf16", ())))
    elif op == "lmeval":
        lmeval(dst, step.get("identity", ""), step.get("ll_scale", 1.0), tuple(step.get("wrong_gen", ())),
               step.get("record"), step.get("corrupt", ""))
    elif op == "json":
        dst.write_text(json.dumps(step["data"], indent=2) + "\n", encoding="utf-8")
    else:
        raise ValueError(f"unknown step {op!r}")


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    out = Path(spec_path).parent
    lines = spec.get("lines", [])
    for i, line in enumerate(lines, 1):
        print(line, flush=True)
        print(f"PROGRESS {i / len(lines):.3f} {line[:60]}", flush=True)
    for step in spec.get("steps", []):
        build(step, out)
    tmp = out / ".result.tmp"
    tmp.write_text(json.dumps(spec["result"]), encoding="utf-8")
    os.replace(tmp, out / "result.json")
    return int(spec.get("exit", 0))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
