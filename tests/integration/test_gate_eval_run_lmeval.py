"""eval_run gate on a fresh, real lm-eval run (the `hf` backend, a tiny local model, offline tasks).

The session fixture builds the tiny model and runs `python -m lm_eval run ... --log_samples`
exactly as the evaluate skill does (about 30 s on 2 CPU cores; more on a busy machine). The gate
must pass on it; every corruption of tests/eval_run_cases.py, applied to a copy, must give its
class. The unit tests run the same cases on the committed copy (tests/fixtures/lmeval_real_output).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gates.eval_run.collect import collect_run
from gates.eval_run.decide import decide
from tests.eval_run_cases import CASES, CORPUS_CASES, CORPUS_TASKS, GEN, MC, copy_run, only_task
from tests.lmeval_tiny import CORPUS_TASKS as CORPUS_TASK_SET
from tests.lmeval_tiny import build_tiny_model, run_lm_eval, write_run_record

pytestmark = pytest.mark.integration
pytest.importorskip("lm_eval")
pytest.importorskip("transformers")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny-llama")


@pytest.fixture(scope="session")
def real_run(tmp_path_factory, tiny_model) -> Path:
    out = tmp_path_factory.mktemp("lmeval") / "out"
    t0 = time.monotonic()
    proc = run_lm_eval(tiny_model, out)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    write_run_record(out, proc, tiny_model)
    print(f"\nreal lm-eval run: {elapsed:.1f} s", file=sys.stderr)
    return out


def test_the_real_run_passes(real_run):
    f = collect_run(real_run)
    v = decide(f)
    assert v.passed, v.detail
    assert set(f.tasks) == {MC, GEN}
    for t in f.tasks.values():
        assert t.samples_scored == t.samples_expected and t.reported_score == t.rederived_score
    # the model directory exists, so completions are counted with its own tokenizer
    assert f.tasks[GEN].token_count_method == "tokenizer"


def test_the_real_run_through_the_cli(real_run):
    p = subprocess.run([sys.executable, "-m", "gates.eval_run", "--artifacts", str(real_run)],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stdout
    assert json.loads(p.stdout)["pass"] is True


@pytest.mark.parametrize("case", [c for c in CASES if c != "pristine"])
def test_corrupted_copies_of_the_real_run(case, real_run, tmp_path):
    corrupt, expected = CASES[case]
    run = copy_run(real_run, tmp_path / "run")
    corrupt(run)
    v = decide(collect_run(run))
    assert v.passed is (expected is None), v.detail
    assert (v.failure_class.value if v.failure_class else None) == expected, v.detail


def test_a_limited_real_run_expects_the_limit(tiny_model, tmp_path):
    out = tmp_path / "limited"
    proc = run_lm_eval(tiny_model, out, extra=("--limit", "4", "--gen_kwargs", "max_gen_toks=4"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    f = collect_run(out)
    assert f.settings.limit == 4.0 and f.settings.gen_kwargs == {"max_gen_toks": 4}
    assert all(t.samples_expected == t.samples_scored == 4 for t in f.tasks.values())
    assert decide(f).passed


def test_a_real_failed_run_is_not_a_pass(tmp_path):
    out = tmp_path / "failed"
    out.mkdir()
    proc = run_lm_eval(tmp_path / "no-such-model", out, timeout=300)
    assert proc.returncode != 0
    write_run_record(out, proc, tmp_path / "no-such-model")
    f = collect_run(out)
    v = decide(f)
    assert f.run_status == "FAILED" and not f.tasks and not v.passed
    assert v.failure_class.value in ("UNKNOWN", "INFRA_TRANSIENT"), v.detail


# ---------------------------------------------------------------- corpus-level aggregates

@pytest.fixture(scope="session")
def corpus_run(tmp_path_factory) -> Path:
    """F1, MCC, BLEU, perplexities, bits per byte: lm-eval bootstraps with 200 replicates here (its CLI's
    100,000 sklearn F1 replicates take many minutes on a CPU; tests/lmeval_cli.py)."""
    model = build_tiny_model(tmp_path_factory.mktemp("corpus-model") / "tiny-llama", tasks=CORPUS_TASK_SET)
    out = tmp_path_factory.mktemp("corpus-lmeval") / "out"
    proc = run_lm_eval(model, out, tasks=CORPUS_TASK_SET, bootstrap_iters=200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    write_run_record(out, proc, model)
    return out


def test_a_real_corpus_run_passes(corpus_run):
    f = collect_run(corpus_run)
    v = decide(f)
    assert v.passed, v.detail
    assert set(f.tasks) == set(CORPUS_TASKS)
    for t in f.tasks.values():
        assert t.reported_score == t.rederived_score and t.aggregation not in (None, "mean")
        assert t.samples_rescore_mismatch == 0


@pytest.mark.parametrize("case", [c for c in CORPUS_CASES if not c.startswith("pristine")])
def test_corrupted_copies_of_the_real_corpus_run(case, corpus_run, tmp_path):
    task, corrupt, expected = CORPUS_CASES[case]
    run = copy_run(corpus_run, tmp_path / "run")
    only_task(run, task)
    corrupt(run)
    v = decide(collect_run(run))
    assert v.passed is (expected is None), v.detail
    assert (v.failure_class.value if v.failure_class else None) == expected, v.detail
