"""Fuzzing every gate's facts through its real CLI entry (issue 9, "Done when").

Seeds are real facts: each gate's own collector run on the committed artifacts (a real lm-eval
output, a synthetic fp8 checkpoint pair, a serve record), plus hand-written facts that pass. Each
fuzzed input is a seed with one to three mutations from these families:

    type_variant_id   a key or an identifier renamed to a look-alike ("t " / "T" / "t\\u200b" / NFD / "5.0")
    out_of_domain     a number replaced by one outside any sane domain (-1, 2, 101, 1e308, 2**63, -0.0)
    invisible_text    a string (or key) replaced by, or suffixed with, characters that print nothing
    deep_nesting      a value replaced by a list/object nested 10 to 3000 levels deep
    wrong_type        a value replaced by one of another JSON type
    nan_token         a number replaced by the token NaN, Infinity or -Infinity
    huge_number       a number replaced by 1e400, -1e400, a 400-digit or a 5000-digit integer
    duplicate_key     a key written twice in one object
    unknown_field     an object given a field its model does not have
    drop_field        a field removed

`judge(gate, text)` runs `gates.contract.run_cli(SPEC, ["--input", FILE])` in this process and
returns the outcome and every broken invariant:

    no exception escapes (no traceback); stdout is exactly one line, one JSON verdict valid against
    the gate's committed output schema, naming the gate; the exit code is 0, 1 or 2 and agrees with
    it (0 iff pass, 2 iff USER_CONFIG_ERROR); no GATE_ERROR (a decision that raised); and an input
    that breaks the gate's committed input schema (or is not strict JSON) never exits 0.

`judge_process` does the same through a real `python -m gates.<gate>` child. benchmarks/fuzz_gates.py
runs 10,000 inputs per gate and prints the outcomes; tests/unit/test_gate_fuzz.py runs a few hundred.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import jsonschema

from gates import GATE_NAMES, load_spec
from gates.contract import parse_json_strict, run_cli
from gates.schemas import load

REPO = Path(__file__).resolve().parents[1]
FAMILIES = ("type_variant_id", "out_of_domain", "invisible_text", "deep_nesting", "wrong_type", "nan_token",
            "huge_number", "duplicate_key", "unknown_field", "drop_field")


# ---------------------------------------------------------------- a JSON tree that can hold what JSON cannot

class Raw(str):
    """Text written into the document verbatim (NaN, 1e400, a 3000-level nesting)."""


class Pairs(list):  # type: ignore[type-arg]
    """An object as (key, value) pairs: it may repeat a key."""


def dumps(x: Any) -> str:
    if isinstance(x, Raw):
        return str(x)
    if isinstance(x, Pairs):
        return "{" + ", ".join(json.dumps(k) + ": " + dumps(v) for k, v in x) + "}"
    if isinstance(x, dict):
        return "{" + ", ".join(json.dumps(k) + ": " + dumps(v) for k, v in x.items()) + "}"
    if isinstance(x, list):
        return "[" + ", ".join(dumps(v) for v in x) + "]"
    return json.dumps(x)


def deep(depth: int, leaf: str = "0") -> Raw:
    opens = "".join("[" if i % 2 == 0 else '{"k": ' for i in range(depth))
    closes = "".join("]" if i % 2 == 0 else "}" for i in reversed(range(depth)))
    return Raw(opens + leaf + closes)


# ---------------------------------------------------------------- paths into the tree

Path_ = tuple[Any, ...]


def nodes(x: Any, path: Path_ = ()) -> list[tuple[Path_, Any]]:
    out = [(path, x)]
    if isinstance(x, (Pairs, Raw)):  # already mutated: a leaf to the later mutations
        return out
    if isinstance(x, dict):
        for k, v in x.items():
            out += nodes(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += nodes(v, path + (i,))
    return out


def get(x: Any, path: Path_) -> Any:
    for p in path:
        x = x[p]
    return x


def put(x: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    get(x, path[:-1])[path[-1]] = value
    return x


INVISIBLE = ("\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\x00", "\x7f", " ", "\t\n", "\u3000")
OUT_OF_DOMAIN = (-1, -1.0, -1e-300, 2.0, 101.0, 1e308, -1e308, -0.0, 0, 5e-324, 2 ** 63, -(2 ** 63) - 1, 10 ** 30)
WRONG = (None, True, False, "0.5", "", [], {}, [1], {"a": 1}, 0, 1.5)


def _variant(s: str, r: random.Random) -> str:
    return r.choice([s + " ", " " + s, s.upper() if s != s.upper() else s.lower(), s + "\u200b", "\ufeff" + s,
                     unicodedata.normalize("NFD", s + "\u00e9"), unicodedata.normalize("NFC", s + "e\u0301"),
                     s + ".0", "0" + s, s.replace("_", "-"), s + "\u0000", "\uff54" + s[1:] if s else "x"])


def _numeric(tree: Any) -> list[Path_]:
    return [p for p, v in nodes(tree) if p and isinstance(v, (int, float)) and not isinstance(v, bool)]


def _strings(tree: Any) -> list[Path_]:
    return [p for p, v in nodes(tree) if p and type(v) is str]


def _objects(tree: Any) -> list[Path_]:
    return [p for p, v in nodes(tree) if isinstance(v, dict)]


def _any(tree: Any) -> list[Path_]:
    return [p for p, _ in nodes(tree) if p]


def mutate(tree: Any, family: str, r: random.Random) -> Any:
    """One mutation of `family` applied to `tree` (in place where it can); returns the new tree."""
    if family == "type_variant_id":
        objs = [p for p in _objects(tree) if get(tree, p)]
        if objs and r.random() < 0.7:
            p = r.choice(objs)
            obj = get(tree, p)
            k = r.choice(list(obj))
            new = {(_variant(kk, r) if kk == k else kk): v for kk, v in obj.items()}
            return put(tree, p, new)
        strs = _strings(tree)
        return put(tree, r.choice(strs), _variant(get(tree, r.choice(strs)), r)) if strs else tree
    if family == "out_of_domain":
        nums = _numeric(tree)
        return put(tree, r.choice(nums), r.choice(OUT_OF_DOMAIN)) if nums else tree
    if family == "invisible_text":
        strs = _strings(tree)
        if not strs:
            return tree
        p, inv = r.choice(strs), "".join(r.choice(INVISIBLE) for _ in range(r.randint(1, 3)))
        return put(tree, p, r.choice([inv, get(tree, p) + inv, inv + get(tree, p)]))
    if family == "deep_nesting":
        return put(tree, r.choice(_any(tree)), deep(r.choice([10, 40, 60, 300, 1000, 3000]),
                                                      r.choice(["0", '"x"', "null", "{}"])))
    if family == "wrong_type":
        p = r.choice(_any(tree))
        old = get(tree, p)
        choices = [w for w in WRONG if type(w) is not type(old)]
        return put(tree, p, copy.deepcopy(r.choice(choices)))
    if family == "nan_token":
        nums = _numeric(tree)
        return put(tree, r.choice(nums), Raw(r.choice(["NaN", "Infinity", "-Infinity"]))) if nums else tree
    if family == "huge_number":
        nums = _numeric(tree)
        token = r.choice(["1e400", "-1e400", "9" * 400, "-" + "9" * 400, "1" + "0" * 5000, "1e-400"])
        return put(tree, r.choice(nums), Raw(token)) if nums else tree
    if family == "duplicate_key":
        objs = [p for p in _objects(tree) if get(tree, p)]
        if not objs:
            return tree
        p = r.choice(objs)
        obj = get(tree, p)
        k = r.choice(list(obj))
        pairs = Pairs(obj.items())
        pairs.append((k, r.choice([obj[k], 0, "x", None])))
        return put(tree, p, pairs)
    if family == "unknown_field":
        objs = _objects(tree)
        p = r.choice(objs)
        get(tree, p)[r.choice(["extra", "surprise", "pass", "__proto__", "passed", "failure_class"])] = \
            r.choice([1, "x", None, True])
        return tree
    if family == "drop_field":
        objs = [p for p in _objects(tree) if get(tree, p)]
        if objs:
            obj = get(tree, r.choice(objs))
            del obj[r.choice(list(obj))]
        return tree
    raise ValueError(f"unknown family {family!r}")


def fuzzed(seed: dict[str, Any], r: random.Random, families: tuple[str, ...] = FAMILIES) -> tuple[str, list[str]]:
    """A mutated copy of `seed` as JSON text, and the families applied (one to three)."""
    tree: Any = copy.deepcopy(seed)
    applied = [r.choice(families) for _ in range(r.choice([1, 1, 1, 2, 3]))]
    for fam in applied:
        if isinstance(tree, (Raw, Pairs)) or not isinstance(tree, dict):
            break  # the whole document was replaced: nothing left to walk into
        tree = mutate(tree, fam, r)
    return dumps(tree), applied


# ---------------------------------------------------------------- the invariants

@dataclass
class Outcome:
    code: Optional[int]
    verdict: Optional[dict[str, Any]]
    schema_valid: Optional[bool]  # None: could not be told (a nesting jsonschema cannot walk)
    violations: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.violations:
            return "VIOLATION:" + self.violations[0].split(":")[0]
        if self.code == 0:
            return "exit 0 pass"
        if self.code == 2:
            return "exit 2 USER_CONFIG_ERROR"
        return f"exit 1 {self.verdict.get('failure_class') if self.verdict else '?'}"


def input_schema_valid(gate: str, text: str) -> Optional[bool]:
    """Does `text` satisfy the gate's committed input schema (and strict JSON: no NaN, no duplicate key)?"""
    try:
        data = parse_json_strict(text)
    except (ValueError, RecursionError):
        return False
    try:
        _validator(gate, "input").validate(data)
    except jsonschema.ValidationError:
        return False
    except RecursionError:
        return None
    return not _has_non_finite(data)


def _has_non_finite(x: Any) -> bool:
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            return True
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


_VALIDATORS: dict[tuple[str, str], Any] = {}


def _validator(gate: str, kind: str) -> Any:
    """The committed schema's validator, checked once and kept (compiling one per input costs more than a gate)."""
    if (gate, kind) not in _VALIDATORS:
        schema = load(gate, kind)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _VALIDATORS[(gate, kind)] = cls(schema)
    return _VALIDATORS[(gate, kind)]


def check_output(gate: str, code: Optional[int], stdout: str, schema_valid: Optional[bool]) -> Outcome:
    out = Outcome(code, None, schema_valid)
    lines = stdout.splitlines()
    if len(lines) != 1:
        out.violations.append(f"stdout: {len(lines)} lines, not exactly one verdict: {stdout[:300]!r}")
        return out
    try:
        v = parse_json_strict(lines[0])
        _validator(gate, "output").validate(v)
    except (ValueError, jsonschema.ValidationError) as exc:
        out.violations.append(f"stdout: not a verdict valid against the output schema: {str(exc)[:300]}")
        return out
    out.verdict = v
    if v.get("gate") != gate:
        out.violations.append(f"verdict: names gate {v.get('gate')!r}")
    fc = v.get("failure_class")
    expected = 0 if v.get("pass") is True else 2 if fc == "USER_CONFIG_ERROR" else 1
    if code != expected:
        out.violations.append(f"exit: {code} for pass={v.get('pass')} failure_class={fc}")
    if fc == "GATE_ERROR":
        out.violations.append(f"gate_error: {v.get('detail', '')[:300]}")
    if code == 0 and schema_valid is False:
        out.violations.append("schema: exit 0 on input that breaks the input schema")
    return out


def judge(gate: str, text: str, workdir: Path, spec: Any = None) -> Outcome:
    """Run the gate's CLI entry in this process on `text` and check every invariant (`spec`: another
    GateSpec under the gate's name, to test this checker itself)."""
    path = workdir / f"{gate}.fuzz.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    valid = input_schema_valid(gate, text)
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code: Optional[int] = run_cli(spec or load_spec(gate), ["--input", str(path)])
    except BaseException as exc:  # noqa: BLE001 - anything escaping the CLI entry is a traceback
        out = Outcome(None, None, valid)
        out.violations.append(f"traceback: {type(exc).__name__}: {str(exc)[:300]}")
        return out
    return check_output(gate, code, stdout.getvalue(), valid)


def judge_process(gate: str, text: str, workdir: Path, timeout: float = 120) -> Outcome:
    """The same, through a real `python -m gates.<gate>` child; a traceback on stderr is a violation."""
    path = workdir / f"{gate}.fuzz.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    p = subprocess.run([sys.executable, "-m", f"gates.{gate}", "--input", str(path)], capture_output=True,
                       text=True, cwd=REPO, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})
    out = check_output(gate, p.returncode, p.stdout, input_schema_valid(gate, text))
    if "Traceback" in p.stderr:
        out.violations.append(f"traceback: {p.stderr[-500:]}")
    return out


# ---------------------------------------------------------------- seeds: real facts

def collected_seeds(tmp: Path) -> dict[str, list[dict[str, Any]]]:
    """Each gate's facts, collected by its own collector from the committed artifacts."""
    from tests import eval_run_cases as E
    from tests.fixtures import checkpoints as ck
    from tests.unit.test_gate_serve import record

    base, cand = E.copy_run(E.REAL_OUTPUT, tmp / "base"), E.copy_run(E.REAL_OUTPUT, tmp / "cand")
    E.set_record(cand, model_identity="/m/candidate-fp8")
    src, exp = ck.synthetic_pair(tmp / "ckpt", "fp8")
    (tmp / "serve_record.json").write_text(json.dumps(record()), encoding="utf-8")
    args = {"ptq": ["--artifacts", str(src), str(exp), "--recipe", "fp8"],
            "serve": ["--artifacts", str(tmp / "serve_record.json")],
            "eval_run": ["--artifacts", str(base)],
            "compare": ["--artifacts", str(base), str(cand), "--threshold", "0.5", "--anomalous-gain", "0.5"],
            "verbosity": ["--artifacts", str(base), str(cand)],
            "audit": ["--artifacts", str(base), str(cand)]}
    out = {}
    for gate, argv in args.items():
        facts = tmp / f"{gate}.seed.json"
        with contextlib.redirect_stdout(io.StringIO()):
            run_cli(load_spec(gate), [*argv, "--facts-out", str(facts)])
        out[gate] = [json.loads(facts.read_text(encoding="utf-8"))]
    return out


def passing_seeds() -> dict[str, list[dict[str, Any]]]:
    """Hand-written facts that pass, so that mutations start from a pass as well as from real facts (perf: no
    committed load-test artifact, so a pass and a caching failure, both hand-written; fidelity likewise: a pass
    and a drift)."""
    from tests.compare_facts import facts as compare_facts
    from tests.unit.test_gate_fidelity import facts as fidelity_facts
    from tests.unit.test_gate_perf import CLEAN, measurement
    from tests.unit.test_gate_perf import facts as perf_facts

    docs = {str(i): 12.0 for i in range(40)}
    tok = {"avg_completion_tokens": 12.0, "samples": 40, "complete": True, "token_count_method": "tokenizer",
           "doc_tokens": docs}
    side = {"evaluated": "/ckpt/base", "used_cache": False, "weights_sha256": "a" * 64, "weights_bytes": 100}
    return {
        "compare": [compare_facts({"t": {"score": 0.5, "samples": 100000, "stderr": 0.0015}},
                                  {"t": {"score": 0.5, "samples": 100000, "stderr": 0.0015}})],
        "perf": [perf_facts([measurement(CLEAN, CLEAN)], single=[measurement(CLEAN, CLEAN)]),
                 perf_facts([measurement(CLEAN, [1.6, 1.62, 1.58])], role="candidate",
                            extra_sides=[perf_facts([measurement(CLEAN, CLEAN)], role="baseline")["sides"][0]])],
        "fidelity": [fidelity_facts().model_dump(mode="json"),
                     fidelity_facts(tokens__kl_mean=0.4, tokens__top1_agreement=0.7).model_dump(mode="json")],
        "verbosity": [{"baseline": {"tasks": {"gen": tok}}, "candidate": {"tasks": {"gen": copy.deepcopy(tok)}}}],
        "audit": [{"baseline": side, "candidate": {**side, "evaluated": "/ckpt/cand", "weights_sha256": "b" * 64},
                   "tasks": {"gen": {"kind": "generative", "samples_baseline": 50, "samples_candidate": 50,
                                     "samples_compared": 50, "identical_responses": 10, "mean_response_chars": 200.0},
                             "arc": {"kind": "loglikelihood", "samples_baseline": 50, "samples_candidate": 50,
                                     "samples_compared": 50, "identical_responses": 0, "loglik_docs_compared": 50,
                                     "loglik_values_compared": 200, "max_abs_loglik_diff": 0.02}}}],
    }


def all_seeds(tmp: Path) -> dict[str, list[dict[str, Any]]]:
    seeds = collected_seeds(tmp)
    for gate, extra in passing_seeds().items():
        seeds.setdefault(gate, []).extend(extra)
    return seeds


# ---------------------------------------------------------------- a campaign

def campaign(n: int, seed: int = 0, gates: tuple[str, ...] = GATE_NAMES,
             on_violation: Optional[Callable[[str, str, Outcome, list[str]], None]] = None
             ) -> dict[str, Counter[str]]:
    """n fuzzed inputs per gate; the outcome counts per gate (labels from Outcome.label)."""
    tmp = Path(tempfile.mkdtemp(prefix="gate-fuzz-"))
    try:
        seeds = all_seeds(tmp)
        counts: dict[str, Counter[str]] = {}
        for gate in gates:
            r = random.Random(f"{seed}:{gate}")
            c: Counter[str] = Counter()
            for _ in range(n):
                text, fams = fuzzed(r.choice(seeds[gate]), r)
                out = judge(gate, text, tmp)
                c[out.label] += 1
                if out.violations and on_violation is not None:
                    on_violation(gate, text, out, fams)
            counts[gate] = c
        return counts
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
