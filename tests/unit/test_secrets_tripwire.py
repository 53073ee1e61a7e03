"""Item 19: no secret reaches the run folder, stdout or stderr.

A whole run through `conductor run` (scripted operator, the fake skills and gates of the unit tests)
with secrets planted everywhere a user or a tool could put them: a key in the release file, values
of several environment variables named like secrets, a secret used as a task name and inside a path
(the model's, and an artifact's outside the run folder), printed by a skill, put by a skill in its
facts as a dictionary key, said by the agent, typed by the person. Then every byte of the run folder
(file contents and file names), stdout and stderr is searched for each secret, as is and in its
URL-encoded and base64 forms.
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path
from urllib.parse import quote

import pytest

import conductor.session as session
from conductor import cli
from conductor.providers.scripted import ScriptedProvider, tool_use
from tests.fakes import harness as H
from tests.fakes.skills import FakeSkill

pytestmark = pytest.mark.timeout(120)

ENV_SECRETS = {  # name -> value: every name matches *KEY*, *TOKEN*, *SECRET*, *PASSWORD* or *CREDENTIAL*
    "MY_SERVICE_API_KEY": "tw-apikey/Q9+xZ3=pL2mN8",
    "HF_TOKEN": "hf_tripwireHubToken0123456789abcd",
    "DEPLOY_SECRET": "deploy-S3cr3t-77aa",
    "DB_PASSWORD": "pw.tripwire.4431",
    "GCP_CREDENTIALS": "cred-blob-tripwire-9",
    "TASK_TOKEN": "tasktokenzq81x",  # also used as a task name and inside paths
}
FILE_KEY = "rk-releasefile-key-5533aa"  # only in the release file, never in the environment


def forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode(),
            base64.urlsafe_b64encode(secret.encode()).decode()}


SECRETS = [*ENV_SECRETS.values(), FILE_KEY]


def leaks(blob: bytes, where: str) -> list[str]:
    return [f"{where}: {form!r}" for s in SECRETS for form in forms(s) if form.encode() in blob]


@pytest.fixture
def planted(tmp_path, monkeypatch):
    for name, value in ENV_SECRETS.items():
        monkeypatch.setenv(name, value)
    token = ENV_SECRETS["TASK_TOKEN"]
    model = tmp_path / f"models-{token}" / "model"
    model.mkdir(parents=True)
    outside = tmp_path / f"export-{token}"
    outside.mkdir()
    (outside / "weights.txt").write_text("not a secret\n")
    release = tmp_path / "release.yaml"
    release.write_text(f"api_key: {FILE_KEY}\nmodel: {model}\ntasks: [conductor_facts_mc, {token}]\n")
    secret_text = " ".join(SECRETS)
    skills = [
        FakeSkill("quantize", [{"lines": [f"loading with {secret_text}"], "print_env": "MY_SERVICE_API_KEY",
                                "facts": {"pass": True, "per_task": {token: 0.5, FILE_KEY: 0.4}},
                                "result": {"artifacts": {"artifact": "stages/quantize/attempt-1/artifact.txt",
                                                         "outside": str(outside)},
                                           "data": {token: ENV_SECRETS["DB_PASSWORD"]},
                                           "summary": f"exported with {ENV_SECRETS['DEPLOY_SECRET']}"}}]),
        FakeSkill("compare", [{"facts": {"drop": 0.001, "threshold": 0.01, token: FILE_KEY}}]),
    ]
    said = f"I will use the key {FILE_KEY} and {ENV_SECRETS['GCP_CREDENTIALS']}"

    def respond(req):  # the agent repeats secrets in its text and in its tool input
        return tool_use(req.stage, {"recipe": "fp8", "calib_size": 64}, text=said) if req.turn == 1 \
            else tool_use(req.stage, {"recipe": "fp8"})

    monkeypatch.setattr(cli, "build_skills", lambda config=None: skills)
    monkeypatch.setattr(cli, "build_provider", lambda config, skills=None: ScriptedProvider(respond))
    monkeypatch.setattr(session, "run_session", functools.partial(session.run_session, gate_prefix=H.FAKE_GATES))
    return release, tmp_path / "ws", skills


def test_no_secret_reaches_the_run_folder_stdout_or_stderr(planted, capsys):
    release, ws, skills = planted
    code = cli.main(["run", "--headless", "--json", "--release", str(release), "--workspace", str(ws),
                     "--provider", "autopilot"])
    out, err = capsys.readouterr()
    assert code == 0, err
    found = leaks(out.encode(), "stdout") + leaks(err.encode(), "stderr")
    files = [p for p in ws.rglob("*")]
    assert any(p.name == "transcript.jsonl" for p in files) and any(p.name == "seals" for p in files)
    for p in files:
        found += leaks(str(p.relative_to(ws)).encode(), "file name")
        if p.is_file():
            found += leaks(p.read_bytes(), str(p.relative_to(ws)))
    assert found == [], "\n".join(found)
    # the run did what it was asked, with the secrets redacted rather than dropped
    config = json.loads((ws / "config.json").read_text())
    assert config["tasks"] == ["conductor_facts_mc", "[REDACTED]"] and "api_key" not in config
    log = (ws / "stages/quantize/attempt-1/skill.log").read_text()
    assert "loading with [REDACTED]" in log and "env \n" in log + "\n"  # the skill never had MY_SERVICE_API_KEY
    sealed = [json.loads(line) for line in (ws / "transcript.jsonl").read_text().splitlines()
              if '"stage_sealed"' in line and '"quantize"' in line][0]
    assert any("[REDACTED]" in k for k in sealed["artifacts"]), sealed["artifacts"]
    warning = next(json.loads(line)["message"] for line in (ws / "transcript.jsonl").read_text().splitlines()
                   if '"warning"' in line and "value of a secret" in line)
    assert "model, tasks" in warning  # said once, at the start, naming the fields (never the value)
