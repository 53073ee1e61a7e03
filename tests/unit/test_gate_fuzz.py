"""Fuzzed facts through every gate's real CLI entry (issue 9, "Done when"): never a traceback, exactly one
verdict valid against the output schema, an exit code that agrees with it, no GATE_ERROR, never exit 0 on
input that breaks the input schema. The engine and the families are in tests/gate_fuzz.py; the 10,000-per-
gate run is benchmarks/fuzz_gates.py. A quick run uses a modest number of examples."""

from __future__ import annotations

import copy
import dataclasses
import random
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gates import GATE_NAMES, load_spec
from gates.contract import Check, Verdict
from tests.gate_fuzz import (
    FAMILIES,
    Raw,
    check_output,
    deep,
    dumps,
    fuzzed,
    input_schema_valid,
    judge,
    judge_process,
    mutate,
)

WORK = Path(tempfile.mkdtemp(prefix="gate-fuzz-test-"))


@cache
def seeds() -> dict[str, list[dict[str, Any]]]:
    from tests.gate_fuzz import all_seeds

    return all_seeds(WORK / "seeds")


def _assert_clean(gate: str, text: str, fams: list[str]) -> None:
    out = judge(gate, text, WORK)
    assert not out.violations, (gate, fams, out.violations, text[:500])


@pytest.mark.parametrize("gate", GATE_NAMES)
def test_the_seeds_are_real_valid_facts(gate: str) -> None:
    for seed in seeds()[gate]:
        out = judge(gate, dumps(seed), WORK)
        assert not out.violations and out.code in (0, 1) and out.schema_valid is True, (gate, out.label)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("gate", GATE_NAMES)
def test_each_family_on_each_gate(gate: str, family: str) -> None:
    r = random.Random(f"{gate}:{family}")
    for _ in range(12):
        tree = mutate(copy.deepcopy(r.choice(seeds()[gate])), family, r)
        _assert_clean(gate, dumps(tree), [family])


@pytest.mark.parametrize("gate", GATE_NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(r=st.randoms(use_true_random=False))
def test_property_mixed_mutations(gate: str, r: random.Random) -> None:
    text, fams = fuzzed(r.choice(seeds()[gate]), r)
    _assert_clean(gate, text, fams)


@pytest.mark.parametrize("gate", GATE_NAMES)
def test_real_processes_on_the_nastiest_families(gate: str) -> None:
    seed = seeds()[gate][0]
    texts = [dumps({**seed, next(iter(seed)): deep(3000)}),  # nesting 3000 deep where a model is expected
             dumps(seed).replace(": 0", ": NaN", 1) if ": 0" in dumps(seed) else "{" + '"x": NaN}',
             "{" + dumps(seed)[1:-1] + ", " + dumps(seed)[1:-1] + "}"]  # every key twice
    for text in texts:
        out = judge_process(gate, text, WORK)
        assert not out.violations and out.code == 2, (gate, out.label, out.violations)


# ------------------------------------------------------------------ the checker itself can fail

def _spec(decide: Any) -> Any:
    return dataclasses.replace(load_spec("compare"), decide=decide)


def test_the_checker_flags_every_broken_invariant() -> None:
    seed = dumps(seeds()["compare"][-1])

    def boom(_: Any) -> Verdict:
        raise RuntimeError("bug")
    assert judge("compare", seed, WORK, _spec(boom)).label == "VIOLATION:gate_error"

    ok = Verdict(gate="compare", passed=True, failure_class=None, detail="ok",
                 checks=[Check(name="c", passed=True, detail="ok")]).to_json()
    assert check_output("compare", 0, ok + "\n", True).violations == []
    assert check_output("compare", 0, ok + "\n", False).label == "VIOLATION:schema"
    assert check_output("compare", 1, ok + "\n", True).label == "VIOLATION:exit"
    assert check_output("compare", 0, ok + "\n" + ok + "\n", True).label == "VIOLATION:stdout"
    assert check_output("compare", 0, "", True).label == "VIOLATION:stdout"
    assert check_output("audit", 0, ok + "\n", True).label == "VIOLATION:verdict"
    assert check_output("compare", 0, ok.replace('"pass": true', '"pass": "yes"') + "\n", True).label == \
        "VIOLATION:stdout"
    assert input_schema_valid("compare", "{" + seed[1:-1] + ", " + seed[1:-1] + "}") is False  # duplicate keys
    assert input_schema_valid("compare", seed) is True
    assert dumps(Raw("NaN")) == "NaN"
