"""The command line: exit codes from decisions, sentences for user errors, --json ending with the result."""

from __future__ import annotations

import functools
import json

import pytest

import conductor.engine.session as session
from conductor import cli
from conductor.app import wiring
from tests.fakes import harness as H
from tests.fakes.skills import FakeSkill, fail

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fakes(monkeypatch):
    """`conductor run` over fake skills, the scripted operator and the fake gates."""
    skills = [FakeSkill("quantize", [fail("SIZE_NOT_REDUCED"), {}]), FakeSkill("compare")]
    monkeypatch.setattr(wiring, "build_skills", lambda config=None: skills)
    monkeypatch.setattr(wiring, "build_provider", lambda config, skills=None: H.operator_script(skills))
    monkeypatch.setattr(session, "run_session", functools.partial(session.run_session, gate_prefix=H.FAKE_GATES))
    return skills


def test_headless_json_ends_with_the_result_event(fakes, tmp_path, capsys):
    code = cli.main(["run", "--headless", "--json", "--workspace", str(tmp_path / "ws"), "--max-turns", "20"])
    out, err = capsys.readouterr()
    assert code == 0
    lines = [json.loads(x) for x in out.splitlines()]
    assert all("type" in x and "seq" in x for x in lines)
    last = lines[-1]
    assert last["type"] == "run_finished" and last["decision"] == "ACCEPT" and last["exit_code"] == 0
    assert set(last["stage_durations_s"]) >= {"quantize", "compare"}
    assert {"turns", "input_tokens", "output_tokens", "cost_usd", "wall_s"} <= set(last)
    assert last["transcript"] == str(tmp_path / "ws" / "transcript.jsonl")
    assert "DECISION ACCEPT" in err and "retry quantize after SIZE_NOT_REDUCED" in err


def test_the_exit_code_comes_from_the_decision(fakes, tmp_path, capsys, monkeypatch):
    fakes[1].behaviours = [fail("ACCURACY_REGRESSION")]
    assert cli.main(["run", "--headless", "--workspace", str(tmp_path / "ws")]) == 10
    assert cli.main(["run", "--headless", "--workspace", str(tmp_path / "ws2"), "--max-turns", "1"]) == 4


@pytest.mark.parametrize("argv,needle", [
    (["run", "--threshold", "5"], "invalid config field 'threshold'"),
    (["run", "--release", "/no/such/release.yaml"], "cannot read release file"),
    (["run", "--policy", "/no/such/policy.yaml"], "policy_file"),
    (["run", "--bogus"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
    (["replay", "/no/such/transcript.jsonl"], "does not exist"),
    (["resume", "/no/such/run"], "does not exist"),
])
def test_user_errors_are_exit_2_with_a_sentence(argv, needle, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_unexpected_errors_are_exit_5_without_a_traceback(monkeypatch, capsys, tmp_path):
    def boom(config=None):
        raise RuntimeError("the registry exploded")

    monkeypatch.setattr(wiring, "build_skills", boom)
    assert cli.main(["run", "--headless", "--workspace", str(tmp_path / "ws")]) == 5
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: the registry exploded" in err and "Traceback" not in err


def test_replay_cli(fakes, tmp_path, capsys):
    ws = tmp_path / "ws"
    assert cli.main(["run", "--headless", "--workspace", str(ws)]) == 0
    capsys.readouterr()
    assert cli.main(["replay", str(ws)]) == 0
    assert "no divergence" in capsys.readouterr().err
    t = ws / "transcript.jsonl"
    lines = t.read_text().splitlines()
    for i, line in enumerate(lines):
        d = json.loads(line)
        if d.get("type") == "gate_verdict":
            d["facts"]["pass"] = not d["facts"].get("pass", True)
            lines[i] = json.dumps(d)
            seq = d["seq"]
            break
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    assert cli.main(["replay", str(bad)]) == 1
    div = json.loads(capsys.readouterr().out)
    assert div["seq"] == seq and set(div) == {"seq", "expected", "found"}


def test_resume_of_a_decided_run_is_refused(fakes, tmp_path, capsys):
    ws = tmp_path / "ws"
    assert cli.main(["run", "--headless", "--workspace", str(ws)]) == 0
    assert cli.main(["resume", str(ws)]) == 2
    assert "already has its decision" in capsys.readouterr().err


def test_gates_transcript_and_help(fakes, tmp_path, capsys, monkeypatch):
    assert cli.main(["gates", "--json"]) == 0
    assert [g["gate"] for g in json.loads(capsys.readouterr().out)][:2] == ["ptq", "serve"]
    assert cli.main(["run", "--headless", "--workspace", str(tmp_path / "runs" / "a")]) == 0
    capsys.readouterr()
    assert cli.main(["transcript", "list", str(tmp_path / "runs")]) == 0
    assert "ACCEPT" in capsys.readouterr().out
    assert cli.main(["transcript", "show", str(tmp_path / "runs" / "a"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["decision"] == "ACCEPT"
    assert cli.main([]) == 0  # not a terminal: help
    assert "usage: conductor" in capsys.readouterr().out
