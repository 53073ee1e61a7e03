"""Repeat-noise sign-off (gates/noise.py): greedy runs must be identical document by document; sampled
runs must stay within their sampling-noise band, with a pooled estimate and its real standard error."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from gates.noise import determinism, range_quantile, spread

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ the band's quantile

@pytest.mark.parametrize("k,table", [(2, 2.772), (3, 3.314), (4, 3.633), (5, 3.858), (10, 4.474)])
def test_range_quantile_matches_the_studentized_range_table(k, table):
    """q(0.95; k, infinite df) from the standard tables."""
    assert range_quantile(k) == pytest.approx(table, abs=2e-3)


def test_range_quantile_needs_two_runs():
    with pytest.raises(ValueError):
        range_quantile(1)


# ------------------------------------------------------------------ spread

def runs_of(*columns: list[float]) -> list[dict[str, float]]:
    return [{f"d{i}": v for i, v in enumerate(col)} for col in columns]


def test_a_run_that_degraded_is_flagged_beyond_the_band():
    """Three runs of 50 binary documents; the third lost 15 answers for a reason other than sampling."""
    a = [1.0] * 30 + [0.0] * 20
    b = [1.0] * 29 + [0.0] + [0.0] * 19 + [1.0]  # two documents swap: sampling noise
    c = [1.0] * 15 + [0.0] * 35
    s = spread(runs_of(a, b, c))
    assert not s.within_band and s.spread == pytest.approx(0.3)
    assert "BEYOND" in s.summary()


def test_sampling_noise_alone_stays_within_the_band():
    a = [1.0, 0.0] * 25
    b = [0.0, 1.0] + [1.0, 0.0] * 24  # the same score, two documents differ
    c = [1.0, 1.0] + [1.0, 0.0] * 24  # one more right
    s = spread(runs_of(a, b, c))
    assert s.within_band, s.summary()
    assert s.scores == [0.5, 0.5, 0.52]


def test_spread_figures_by_hand():
    # 2 runs x 4 documents: run 1 = 1,1,0,0 (0.5); run 2 = 1,0,0,1 (0.5)
    s = spread(runs_of([1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0]))
    assert s.spread == 0.0 and s.spread_rel == 0.0 and s.median == 0.5
    # per-document variance across the 2 runs (ddof 1): 0, 0.5, 0, 0.5 -> sigma_run = sqrt(1.0) / 4
    assert s.sigma_run == pytest.approx(0.25)
    assert s.band == pytest.approx(range_quantile(2) * 0.25)
    assert s.agreement == 0.5
    # pooled: per-document means 1, 0.5, 0, 0.5 -> mean 0.5, sd = sqrt(0.5 / 3), se = sd / 2
    assert s.pooled == 0.5 and s.pooled_se == pytest.approx(math.sqrt(0.5 / 3) / 2)


def test_identical_runs_have_no_spread_and_a_zero_band():
    s = spread(runs_of([1.0, 0.0, 1.0], [1.0, 0.0, 1.0]))
    assert s.spread == 0.0 and s.band == 0.0 and s.within_band and s.agreement == 1.0


def test_only_documents_present_in_every_run_count():
    s = spread([{"a": 1.0, "b": 0.0}, {"a": 1.0, "b": 0.0, "c": 1.0}])  # 'c' is not in every run: ignored
    assert s.documents == 2 and s.within_band


def test_spread_input_errors():
    with pytest.raises(ValueError):
        spread(runs_of([1.0]))
    with pytest.raises(ValueError):
        spread([{"a": 1.0}, {"b": 1.0}])


# ------------------------------------------------------------------ determinism

def write_run(root: Path, name: str, tasks: dict[str, list[tuple[object, float]]]) -> Path:
    d = root / name / "model"
    d.mkdir(parents=True)
    for task, rows in tasks.items():
        lines = [json.dumps({"doc_id": i, "resps": resp, "filter": "none", "metrics": ["m"], "m": m})
                 for i, (resp, m) in enumerate(rows)]
        (d / f"samples_{task}_2026-01-01T00-00-00.jsonl").write_text("\n".join(lines) + "\n")
    return root / name


GEN = [([["Paris."]], 1.0), ([["Blue"]], 0.0), ([["42"]], 1.0)]
MC = [([[["-1.5", "False"]], [["-2.5", "False"]]], 1.0), ([[["-0.5", "True"]], [["-3.0", "False"]]], 0.0)]


def test_identical_greedy_runs_are_deterministic(tmp_path):
    a = write_run(tmp_path, "a", {"gen": GEN, "mc": MC})
    b = write_run(tmp_path, "b", {"gen": GEN, "mc": MC})
    d = determinism(str(a), str(b))
    assert d.identical and d.summary().startswith("deterministic: 5 documents")
    assert {t.task: t.max_abs_loglik_diff for t in d.tasks}["mc"] == 0.0


def test_one_changed_answer_breaks_determinism(tmp_path):
    a = write_run(tmp_path, "a", {"gen": GEN, "mc": MC})
    changed = [GEN[0], ([["Red"]], 0.0), GEN[2]]  # same metric value, different response: still a finding
    b = write_run(tmp_path, "b", {"gen": changed, "mc": MC})
    d = determinism(str(a), str(b))
    assert not d.identical
    gen = next(t for t in d.tasks if t.task == "gen")
    assert (gen.same_responses, gen.same_values, gen.differing) == (2, 3, ["1"])
    assert "1 of 3 responses differ" in d.summary()


def test_loglikelihood_drift_breaks_determinism(tmp_path):
    a = write_run(tmp_path, "a", {"mc": MC})
    b = write_run(tmp_path, "b", {"mc": [([[["-1.5001", "False"]], [["-2.5", "False"]]], 1.0), MC[1]]})
    d = determinism(str(a), str(b))
    assert not d.identical and d.tasks[0].max_abs_loglik_diff == pytest.approx(1e-4)


def test_missing_documents_or_tasks_break_determinism(tmp_path):
    a = write_run(tmp_path, "a", {"gen": GEN, "mc": MC})
    b = write_run(tmp_path, "b", {"gen": GEN[:2]})
    d = determinism(str(a), str(b))
    assert not d.identical and d.missing_tasks == ["mc"] and d.tasks[0].only_in_one == 1


def test_cli(tmp_path):
    a = write_run(tmp_path, "a", {"gen": GEN})
    b = write_run(tmp_path, "b", {"gen": [GEN[0], GEN[1], ([["41"]], 0.0)]})

    def cli(*args: str) -> tuple[int, str]:
        p = subprocess.run([sys.executable, "-m", "gates.noise", *args], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
        return p.returncode, p.stdout + p.stderr

    assert cli("determinism", str(a), str(a))[0] == 0
    code, out = cli("determinism", str(a), str(b))
    assert code == 1 and json.loads(out)["identical"] is False
    code, out = cli("spread", str(a), str(b), "--task", "gen")
    assert code in (0, 1) and "pooled" in json.loads(out)
    code, out = cli("spread", str(a), str(b), "--task", "nope")
    assert code == 2 and "no per-sample log" in out
    code, out = cli("determinism", str(a), str(tmp_path / "missing"))
    assert code == 2 and "cannot" in out
