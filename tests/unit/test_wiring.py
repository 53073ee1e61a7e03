"""The composition root (conductor.app.wiring): skills from the entry point group, clear errors, and
an internal error that names the transcript of the run it broke (no module-level state)."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from conductor import cli
from conductor.app import wiring
from conductor.engine import session
from gates.failure_classes import ExitCode
from tests.fakes import harness as H
from tests.fakes.skills import FakeSkill


def test_skills_come_from_the_entry_point_group_declared_in_pyproject():
    names = [ep.value for ep in wiring.skill_providers()]
    assert names == ["skills.registry:default_skills"]
    skills = wiring.build_skills()
    assert [s.stage for s in skills] == ["preflight", "quantize", "serve", "eval_baseline", "eval_candidate",
                                         "compare", "audits", "closeout"]


def test_every_provider_in_the_group_contributes(monkeypatch):
    extra = EntryPoint(name="zz-extra", value="tests.unit.test_wiring:_extra_skills", group=wiring.SKILLS_GROUP)
    real = wiring.skill_providers()
    monkeypatch.setattr(wiring, "skill_providers", lambda: [*real, extra])
    assert [s.name for s in wiring.build_skills()][-1] == "extra"


def _extra_skills() -> list[FakeSkill]:
    return [FakeSkill("audits", name="extra")]


def test_no_installed_skills_is_one_sentence_and_an_internal_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(wiring, "skill_providers", lambda: [])
    with pytest.raises(wiring.WiringError, match="no skills are installed") as err:
        wiring.build_skills()
    assert err.value.code == ExitCode.INTERNAL_ERROR
    assert cli.main(["run", "--headless", "--workspace", str(tmp_path / "ws")]) == ExitCode.INTERNAL_ERROR
    out = capsys.readouterr().err
    assert "conductor: no skills are installed" in out and "Traceback" not in out


def test_an_internal_error_names_the_transcript_of_the_run_it_broke(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(wiring, "build_skills", lambda config=None: [FakeSkill("compare")])
    monkeypatch.setattr(wiring, "build_provider", lambda config, skills=None: H.operator_script(skills))

    def broken(*args, **kwargs):
        raise RuntimeError("the loop could not be built")

    monkeypatch.setattr(session, "build_run", broken)
    code = cli.main(["run", "--headless", "--workspace", str(tmp_path / "ws")])
    err = capsys.readouterr().err
    assert code == ExitCode.INTERNAL_ERROR and "internal error: RuntimeError: the loop could not be built" in err
    assert f"the transcript: {tmp_path / 'ws' / 'transcript.jsonl'}" in err
    code = cli.main(["run", "--headless", "--workspace", str(tmp_path / "ws2")])
    assert "ws2" in capsys.readouterr().err  # the note is the failed run's own, not a leftover


def test_an_unknown_provider_is_a_usage_error():
    cfg = cli.load_config(overrides={"provider": "replay"})
    with pytest.raises(wiring.WiringError, match="cannot drive a new run") as err:
        wiring.build_provider(cfg, [])
    assert err.value.code == ExitCode.CONFIG_ERROR
