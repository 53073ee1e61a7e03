"""Fuzz the eval_run gate: N fuzzed facts through its CLI (in process), N fuzzed artifact directories
through collect + decide. Prints what came out; a crash, a traceback, a non-JSON stdout, or a pass on
an input that breaks the schema is a defect (the script exits 1).

    .venv/bin/python benchmarks/fuzz_eval_run.py [--n 10000] [--artifacts 500] [--seed 0]

Facts families: type-variant values in every field (5, "5", 5.0, " 5", true, null, [], {}), NaN and
Infinity written into the JSON text, negative / huge numbers, unknown fields, deep nesting in the
free-form generation settings, truncated JSON. Artifact families: the committed real lm-eval output
with per-sample lines respelled (doc ids), re-valued (out-of-domain metric values), blanked (responses
that print nothing), torn, duplicated or garbled, and run records with every status. A duplicated, torn
or garbled log must never pass, except a garbled byte inside free text the gate does not re-derive (a
raw response whose filtered answer and score are unchanged, a choice's continuation, the generation
arguments): those are counted apart, not as defects.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gates.contract import InputError, run_cli  # noqa: E402
from gates.eval_run import SPEC  # noqa: E402
from gates.eval_run.collect import collect_run  # noqa: E402
from gates.eval_run.decide import decide  # noqa: E402
from gates.eval_run.models import EvalRunFacts  # noqa: E402
from gates.eval_run.tokens import WHITESPACE  # noqa: E402
from tests.eval_run_cases import GEN, MC, REAL_OUTPUT, samples_file, set_record  # noqa: E402

VARIANTS: list[Any] = [5, "5", 5.0, " 5", True, False, None, [], {}, -1, 2.0, 1e308, "N/A", "", "\u200b", 0.5]
STATUSES = ["SUCCESS", "FAILED", "ERROR", "KILLED", "RUNNING", "PENDING", "TIMEOUT", "CANCELLED", "UNKNOWN",
            "DONE", "success"]


def good_facts() -> dict[str, Any]:
    task = {"output_type": "generate_until", "primary_metric": "exact_match", "scale": "unit",
            "samples_expected": 100, "samples_scored": 100, "reported_score": 0.5, "reported_stderr": 0.05,
            "rederived_score": 0.5, "rederived_stderr": 0.05, "responses_total": 100,
            "generation_kwargs": {"max_gen_toks": 8}}
    return {"run_status": "SUCCESS", "exit_code": 0, "tasks": {"t": task},
            "settings": {"backend": "hf", "gen_kwargs": {"temperature": 0}}}


def nested(depth: int) -> str:
    return '{"k": [' * depth + "1" + "]}" * depth


def fuzz_facts(rnd: random.Random) -> str:
    f = good_facts()
    nest = None
    for _ in range(rnd.randint(1, 4)):
        kind = rnd.random()
        task = f["tasks"].get("t") if isinstance(f.get("tasks"), dict) else None
        target = task if isinstance(task, dict) and rnd.random() < 0.6 else f
        key = rnd.choice(list(target) + ["bogus"])
        if kind < 0.6:
            target[key] = rnd.choice(VARIANTS)
        elif kind < 0.7:
            target["run_status" if target is f else key] = rnd.choice(STATUSES)
        elif kind < 0.8:
            target["generation_kwargs" if target is not f else "settings"] = "__NEST__"
            nest = nested(rnd.choice([5, 50, 500, 5000]))
        else:
            target[key] = rnd.choice([-1e9, 1e9, -0.0, 10**40])
    text = json.dumps(f)
    if nest is not None:
        text = text.replace('"__NEST__"', nest)
    r = rnd.random()
    if r < 0.1:
        text = text.replace("0.05", rnd.choice(["NaN", "Infinity", "-Infinity"]), 1)
    elif r < 0.15:
        text = text[: rnd.randint(0, len(text))]
    return text


def run_facts(text: str) -> tuple[int, str, str]:
    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
            code = run_cli(SPEC, ["--input", "-"])
    finally:
        sys.stdin = old
    return code, out.getvalue(), err.getvalue()


def schema_valid(text: str) -> bool:
    try:
        from gates.contract import parse_json_strict
        EvalRunFacts.model_validate(parse_json_strict(text))
        return True
    except Exception:
        return False


def _lines(run: Path, task: str) -> list[str]:
    return samples_file(run, task).read_text(encoding="utf-8").splitlines()


def fuzz_artifacts(rnd: random.Random, run: Path) -> str:
    task = rnd.choice([MC, GEN])
    lines = [json.loads(x) for x in _lines(run, task)]
    kind = rnd.choice(["doc_id", "value", "blank", "torn", "dup", "garble", "status"])
    i = rnd.randrange(len(lines))
    metric = "acc" if task == MC else "exact_match"
    if kind == "doc_id":
        lines[i]["doc_id"] = rnd.choice(VARIANTS)
    elif kind == "value":
        lines[i][metric] = rnd.choice(VARIANTS + [float("nan"), 3.0, -2.0])
    elif kind == "blank" and task == GEN:
        lines[i]["resps"] = [[rnd.choice(["", "\u200b", "\x00", "\u202e", " \t"])]]
    elif kind == "dup":
        lines.append(lines[i])
    elif kind == "status":
        set_record(run, status=rnd.choice(STATUSES[:9]), exit_code=rnd.choice([None, 0, 1, -9, -15]),
                   error=rnd.choice([None, "", "Connection refused", "KeyError: 'x'"]))
    text = "".join(json.dumps(x, allow_nan=True) + "\n" for x in lines)
    if kind == "torn":
        text = text[: rnd.randint(0, len(text))]
    elif kind == "garble":
        b = bytearray(text.encode("utf-8"))
        for _ in range(rnd.randint(1, 5)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        samples_file(run, task).write_bytes(bytes(b))
        return kind
    samples_file(run, task).write_text(text, encoding="utf-8")
    return kind


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--artifacts", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    codes: collections.Counter[int] = collections.Counter()
    defects: list[str] = []
    t0 = time.perf_counter()
    for k in range(args.n):
        text = fuzz_facts(rnd)
        try:
            code, out, err = run_facts(text)
            json.loads(out)
        except BaseException:  # noqa: BLE001 - a crash is what we look for
            defects.append(f"facts #{k}: crash {traceback.format_exc(limit=2)[-300:]}")
            continue
        codes[code] += 1
        if "Traceback" in out + err:
            defects.append(f"facts #{k}: traceback printed")
        if code == 0 and not schema_valid(text):
            defects.append(f"facts #{k}: pass on a schema-invalid input")
    facts_s = time.perf_counter() - t0
    kinds: collections.Counter[str] = collections.Counter()
    art_codes: collections.Counter[str] = collections.Counter()
    unverified = 0
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.artifacts):
            run = Path(tmp) / f"r{k}"
            shutil.copytree(REAL_OUTPUT, run)
            kind = fuzz_artifacts(rnd, run)
            kinds[kind] += 1
            try:
                v = decide(collect_run(run, token_counter_factory=lambda *_: WHITESPACE))
                art_codes["pass" if v.passed else v.failure_class.value] += 1  # type: ignore[union-attr]
                if v.passed and kind == "garble":
                    unverified += 1
                elif v.passed and kind not in ("status", "blank", "value", "doc_id"):
                    defects.append(f"artifacts #{k}: {kind} passed")
            except InputError:
                art_codes["input error"] += 1
            except BaseException:  # noqa: BLE001
                defects.append(f"artifacts #{k} ({kind}): crash {traceback.format_exc(limit=2)[-300:]}")
            shutil.rmtree(run)
    art_s = time.perf_counter() - t1
    print(f"facts: {args.n} inputs in {facts_s:.1f} s; exit codes {dict(sorted(codes.items()))}")
    print(f"artifacts: {args.artifacts} directories in {art_s:.1f} s; corruptions {dict(kinds)}; "
          f"outcomes {dict(art_codes)}")
    print(f"garbled bytes that passed: {unverified} (inside free text the gate does not re-derive: a raw "
          f"response, a choice's continuation, the generation arguments; every other byte is hashed or checked)")
    print(f"defects: {len(defects)}")
    for d in defects[:20]:
        print("  " + d)
    return 1 if defects else 0


if __name__ == "__main__":
    raise SystemExit(main())
