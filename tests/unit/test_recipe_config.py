"""Item 22: the recipe is validated with the config, before preflight runs anything.

An unknown recipe name, a recipe file that does not exist, or a recipe file that is invalid is a
configuration error: exit 2 and one sentence that lists the known recipes. Nothing runs: no run
folder is created, no skill starts.
"""

from __future__ import annotations

import functools

import pytest

import conductor.session as session
from conductor import cli
from conductor.config import ConfigError, load_config
from gates.recipes import known_recipes
from tests.fakes import harness as H
from tests.fakes.skills import FakeSkill

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def started(monkeypatch):
    """Records every skill command built and every session started (there must be none)."""
    skills = [FakeSkill("preflight"), FakeSkill("quantize"), FakeSkill("compare")]
    sessions = []
    monkeypatch.setattr(cli, "build_skills", lambda config=None: skills)
    monkeypatch.setattr(cli, "build_provider", lambda config, skills=None: H.operator_script(skills))
    real = functools.partial(session.run_session, gate_prefix=H.FAKE_GATES)
    monkeypatch.setattr(session, "run_session", lambda *a, **k: sessions.append(a) or real(*a, **k))
    return skills, sessions


def _bad_recipe_files(tmp_path):
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("name: mine\nquant_algo: FP8\n")  # weight_dtype, required_scales, ... missing
    not_yaml = tmp_path / "broken.yaml"
    not_yaml.write_text("name: [unclosed\n")
    return {"unknown name": "fp3_bogus", "missing file": str(tmp_path / "nope.yaml"),
            "invalid file": str(invalid), "not YAML": str(not_yaml)}


@pytest.mark.parametrize("case", ["unknown name", "missing file", "invalid file", "not YAML"])
def test_a_bad_recipe_is_refused_with_the_config(case, started, tmp_path, capsys):
    recipe = _bad_recipe_files(tmp_path)[case]
    ws = tmp_path / "ws"
    code = cli.main(["run", "--headless", "--recipe", recipe, "--workspace", str(ws)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "recipe" in lines[0] and all(name in lines[0] for name in known_recipes()), lines[0]
    skills, sessions = started
    assert sessions == [] and not ws.exists()
    assert all(s.calls == [] for s in skills)


def test_a_bad_recipe_in_the_release_file_is_refused(tmp_path):
    release = tmp_path / "release.yaml"
    release.write_text("recipe: fp3_bogus\n")
    with pytest.raises(ConfigError, match="unknown recipe 'fp3_bogus'.*fp8"):
        load_config(yaml_path=str(release))


def test_known_recipes_and_valid_recipe_files_are_accepted(tmp_path):
    for name in known_recipes():
        assert load_config(overrides={"recipe": name}).recipe == name
    mine = tmp_path / "mine.yaml"
    mine.write_text((__import__("gates.recipes", fromlist=["RECIPE_DIR"]).RECIPE_DIR / "fp8.yaml").read_text())
    assert load_config(overrides={"recipe": str(mine)}).recipe == str(mine)
