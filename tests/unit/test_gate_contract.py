"""The CLI contract every gate shares (gates/contract.py): bounded free-form input, and a verdict
emission that fails closed. Hostile cases first, through the real CLI as a subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from gates.contract import (
    FREE_FORM_MAX_DEPTH,
    Check,
    FreeDict,
    GateSpec,
    StrictModel,
    Verdict,
    free_form_fields,
    run_cli,
)
from gates.eval_run.models import EvalSettings, TaskRun
from gates.failure_classes import FailureClass as FC
from gates.schemas import load

REPO = Path(__file__).resolve().parents[2]


def nest(depth: int, leaf: Any = 0) -> Any:
    x = leaf
    for i in range(depth):
        x = {"k": x} if i % 2 else [x]
    return x


def deep_json(depth: int, leaf: Any = 0) -> str:
    """The same nesting as text: json.dumps itself recurses, and must not be what fails here."""
    opens = "".join("[" if i % 2 == 0 else '{"k": ' for i in reversed(range(depth)))
    closes = "".join("]" if i % 2 == 0 else "}" for i in range(depth))
    return opens + json.dumps(leaf) + closes


def compare_facts_text(base_gk: str, cand_gk: str) -> str:
    task = '{"score": 0.5, "samples": 1000, "stderr": 0.001}'
    side = '{{"model_identity": "{ident}", "settings": {{"backend": "hf", "gen_kwargs": {{"x": {gk}}}}}, ' \
           '"tasks": {{"t": {task}}}}}'
    return ('{"baseline": ' + side.format(ident="/m/base", gk=base_gk, task=task) + ', "candidate": '
            + side.format(ident="/m/cand", gk=cand_gk, task=task) + "}")


def run_gate(gate: str, text: str, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "facts.json"
    path.write_text(text, encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", f"gates.{gate}", "--input", str(path), *extra], capture_output=True,
                       text=True, cwd=REPO, timeout=120)
    return p.returncode, p.stdout, p.stderr


def one_verdict(gate: str, stdout: str) -> dict[str, Any]:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout[:500]
    v = json.loads(lines[0])
    jsonschema.validate(v, load(gate, "output"))
    return v


# ------------------------------------------------------------------ deep nesting (issue 9, item 10)

@pytest.mark.parametrize("depth", [300, 900, 3000])
@pytest.mark.parametrize("differ", [False, True])
def test_compare_facts_nested_deep_in_gen_kwargs_are_exit_2_never_a_traceback(tmp_path: Path, depth: int,
                                                                              differ: bool) -> None:
    text = compare_facts_text(deep_json(depth, 0), deep_json(depth, 1 if differ else 0))
    code, out, err = run_gate("compare", text, tmp_path)
    assert "Traceback" not in err, err[-2000:]
    v = one_verdict("compare", out)
    assert code == 2 and v["failure_class"] == "USER_CONFIG_ERROR" and v["pass"] is False, v["detail"]


@pytest.mark.parametrize("depth", [300, 3000])
def test_eval_run_facts_nested_deep_are_exit_2(tmp_path: Path, depth: int) -> None:
    text = '{"run_status": "SUCCESS", "settings": {"backend": "hf", "gen_kwargs": {"x": ' + deep_json(depth) + "}}}"
    code, out, err = run_gate("eval_run", text, tmp_path)
    assert "Traceback" not in err, err[-2000:]
    v = one_verdict("eval_run", out)
    assert code == 2 and v["failure_class"] == "USER_CONFIG_ERROR"


@pytest.mark.parametrize("size", ["9" * 400, str(2 ** 63), "-" + str(2 ** 63 + 1)])
def test_integers_beyond_64_bits_are_exit_2_never_a_gate_error(tmp_path: Path, size: str) -> None:
    """Found by the fuzzer: a weights_bytes of 400 digits made the audit decision raise OverflowError."""
    side = '{{"evaluated": "{e}", "used_cache": false, "weights_sha256": "{h}", "weights_bytes": {b}}}'
    text = ('{"baseline": ' + side.format(e="/c/base", h="a" * 64, b="100") + ', "candidate": '
            + side.format(e="/c/cand", h="b" * 64, b=size) + ', "tasks": {}}')
    code, out, err = run_gate("audit", text, tmp_path)
    assert "Traceback" not in err
    v = one_verdict("audit", out)
    assert code == 2 and v["failure_class"] == "USER_CONFIG_ERROR", v["detail"]


class _Free(StrictModel):
    kwargs: Optional[FreeDict] = None


@pytest.mark.parametrize("value,why", [
    (nest(FREE_FORM_MAX_DEPTH + 1), "deeper"),
    ({"k": list(range(5000))}, "values"),
    ({"k": "x" * 100_000}, "characters"),
    ({"k": float("nan")}, "finite"),
    ({"k": object()}, "JSON value"),
])
def test_free_form_fields_are_bounded(value: Any, why: str) -> None:
    with pytest.raises(ValidationError) as err:
        _Free.model_validate({"kwargs": value})
    assert why in str(err.value)


def test_free_form_fields_accept_ordinary_generation_kwargs() -> None:
    gk = {"until": ["\n\n", "Question:"], "do_sample": False, "temperature": 0.0, "max_gen_toks": 256,
          "nested": nest(FREE_FORM_MAX_DEPTH - 1)}
    assert _Free.model_validate({"kwargs": gk}).kwargs == gk


# ------------------------------------------------------------------ the emission fails closed

class _Facts(StrictModel):
    x: int = 0


def _spec(decide: Any) -> GateSpec[Any]:
    return GateSpec(name="compare", facts_model=_Facts, decide=decide, summary="test gate")


def _run_in_process(spec: GateSpec[Any], tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "f.json"
    path.write_text('{"x": 1}', encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_cli(spec, ["--input", str(path), *extra])
    return code, one_verdict("compare", out.getvalue())


class _Unserialisable:
    def __repr__(self) -> str:
        raise RuntimeError("repr refuses")


def _passing_with(evidence: dict[str, Any]) -> Any:
    def decide(_: Any) -> Verdict:
        return Verdict(gate="compare", passed=True, failure_class=None, detail="fine",
                       checks=[Check(name="c", passed=True, detail="ok")], evidence=evidence)
    return decide


@pytest.mark.parametrize("evidence", [{"x": _Unserialisable()}, {"x": b"\xff\xfe"}, {"deep": nest(5000)}])
def test_a_passing_verdict_that_cannot_be_serialised_is_gate_error_exit_1(tmp_path: Path,
                                                                          evidence: dict[str, Any]) -> None:
    code, v = _run_in_process(_spec(_passing_with(evidence)), tmp_path)
    assert code == 1 and v["pass"] is False and v["failure_class"] == "GATE_ERROR"


@pytest.mark.parametrize("returned", [None, {"pass": True}, "PASS"])
def test_a_decision_that_returns_no_verdict_is_gate_error(tmp_path: Path, returned: Any) -> None:
    code, v = _run_in_process(_spec(lambda f: returned), tmp_path)
    assert code == 1 and v["failure_class"] == "GATE_ERROR"


def test_an_unwritable_facts_out_is_a_verdict_not_a_traceback(tmp_path: Path) -> None:
    facts = compare_facts_text("0", "0")
    code, out, err = run_gate("compare", facts, tmp_path, "--facts-out", str(tmp_path / "no" / "such" / "dir.json"))
    assert "Traceback" not in err, err[-2000:]
    v = one_verdict("compare", out)
    assert code == 2 and v["failure_class"] == "USER_CONFIG_ERROR" and "--facts-out" in v["detail"]


def test_an_oversized_input_file_is_exit_2(tmp_path: Path) -> None:
    big = '{"x": 1, "pad": "' + "a" * (65 * 1024 * 1024) + '"}'
    code, out, err = run_gate("verbosity", big, tmp_path)
    assert "Traceback" not in err
    v = one_verdict("verbosity", out)
    assert code == 2 and v["failure_class"] == "USER_CONFIG_ERROR"


def test_every_free_form_field_of_every_gate_is_bounded() -> None:
    """No gate input model may carry an unbounded `dict[str, Any]` / `Any` field (item 10): StrictModel
    bounds every such field of every subclass, present and future."""
    from gates import load_spec

    unbounded = []
    for gate in ("ptq", "serve", "eval_run", "compare", "verbosity", "audit"):
        for model in _models_in(load_spec(gate).facts_model, set()):
            assert issubclass(model, StrictModel), model
            for name, f in model.model_fields.items():
                if _mentions_any(f.annotation) and name not in free_form_fields(model):
                    unbounded.append(f"{gate}: {model.__name__}.{name}")
    assert unbounded == []
    assert "gen_kwargs" in free_form_fields(EvalSettings) and "generation_kwargs" in free_form_fields(TaskRun)


def _mentions_any(tp: Any) -> bool:
    return tp is Any or any(_mentions_any(a) for a in getattr(tp, "__args__", ()) or ())


def _models_in(tp: Any, seen: set[type]) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return []
        seen.add(tp)
        return [tp] + [m for f in tp.model_fields.values() for m in _models_in(f.annotation, seen)]
    return [m for arg in getattr(tp, "__args__", ()) or () for m in _models_in(arg, seen)]


@pytest.mark.parametrize("value", [nest(FREE_FORM_MAX_DEPTH + 1), {"k": "x" * 100_000}])
def test_eval_run_free_form_fields_are_bounded_too(value: Any) -> None:
    with pytest.raises(ValidationError):
        EvalSettings.model_validate({"backend": "hf", "gen_kwargs": {"x": value}})
    with pytest.raises(ValidationError):
        TaskRun.model_validate({"output_type": "generate_until", "primary_metric": "em",
                                "generation_kwargs": {"x": value}})


def test_gate_error_class_is_in_the_output_schema() -> None:
    assert FC.GATE_ERROR.value in json.dumps(load("compare", "output"))
