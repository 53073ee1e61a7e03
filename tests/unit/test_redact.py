"""Redactor: secrets from the environment, token shapes, secret-named keys; and nothing leaks
into a transcript or a skill log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conductor import events as E
from conductor.executor import LocalExecutor, ProcessSpec
from conductor.redact import REDACTED, Redactor
from conductor.transcript import TranscriptWriter
from tests.eventfactory import header

ANT = "sk-ant-api03-" + "a1B2_c3-D4" * 6
OAI = "sk-" + "Q" * 40
HF = "hf_" + "x" * 34


@pytest.mark.parametrize("text, secret", [
    (f"using key {ANT} now", ANT),
    (f"OPENAI={OAI}", OAI),
    (f"token {HF}", HF),
    ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
    ("curl -H 'x-api-key: sekrit-value-1'", "sekrit-value-1"),
    ('{"authorization": "Bearer tok_live_9"}', "tok_live_9"),
    ("authorization=opaque-credential", "opaque-credential"),
    ("bearer   lowercase-token-77", "lowercase-token-77"),
])
def test_token_shapes_are_redacted(text, secret):
    out = Redactor(env={}).redact_text(text)
    assert secret not in out and REDACTED in out


def test_env_values_named_like_secrets_are_redacted():
    env = {"ANTHROPIC_API_KEY": "plain-value-123", "HF_TOKEN": "hf-ish-9876", "DB_PASSWORD": "hunter22",
           "MY_SECRET_THING": "s3cr3t!!", "GCP_CREDENTIALS": "cred-json-blob", "PATH": "/usr/bin:/bin",
           "HOME_DIR": "not-a-secret-value"}
    r = Redactor(env=env)
    text = " ".join(env.values())
    out = r.redact_text(text)
    for name in ("ANTHROPIC_API_KEY", "HF_TOKEN", "DB_PASSWORD", "MY_SECRET_THING", "GCP_CREDENTIALS"):
        assert env[name] not in out
    assert "/usr/bin:/bin" in out and "not-a-secret-value" in out


def test_short_boring_and_path_values_are_not_treated_as_secrets():
    r = Redactor(env={"TOKENIZERS_PARALLELISM": "false", "SSH_KEY_FILE": "/home/u/.ssh/id", "API_KEY": "abc",
                      "USE_TOKEN": "enabled"})
    text = "false /home/u/.ssh/id abc enabled"
    assert r.redact_text(text) == text


def test_redact_obj_walks_structures_and_secret_keys():
    r = Redactor(env={"MY_API_KEY": "envsecret-42"})
    data = {"api_key": "anything", "nested": [{"hf_token": "short"}, {"note": "uses envsecret-42"}],
            "headers": {"Authorization": "Bearer zzz", "x-api-key": "k"}, "input_tokens": 12,
            "eos_token": "</s>", "tokenizer": "gpt2", "password": "", "tuple": ("envsecret-42",)}
    out = r.redact_obj(data)
    assert out["api_key"] == REDACTED and out["nested"][0]["hf_token"] == REDACTED
    assert out["nested"][1]["note"] == f"uses {REDACTED}"
    assert out["headers"]["Authorization"] == REDACTED and out["headers"]["x-api-key"] == REDACTED
    assert out["input_tokens"] == 12 and out["eos_token"] == "</s>" and out["tokenizer"] == "gpt2"
    assert out["password"] == "" and out["tuple"] == [REDACTED]
    assert data["api_key"] == "anything"  # the input is not mutated


def test_text_without_secrets_is_returned_unchanged():
    r = Redactor(env={})
    text = "quantized 30 layers; size 0.51x; sk-short is fine"
    assert r.redact_text(text) is text


def test_extra_secrets():
    assert Redactor(env={}, extra_secrets=["literal-secret"]).redact_text("a literal-secret b") == f"a {REDACTED} b"


def test_nothing_leaks_into_transcript_or_skill_log(tmp_path, monkeypatch):
    """Fake keys in the environment and in a skill's output: grep the transcript and the log."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANT)
    monkeypatch.setenv("CONDUCTOR_TEST_TOKEN", "env-token-value-123")
    red = Redactor()
    log = tmp_path / "skill.log"
    lines: list[str] = []
    code = ("import os\nprint('key', os.environ['ANTHROPIC_API_KEY'])\n"
            "print('tok', os.environ['CONDUCTOR_TEST_TOKEN'])\n"
            f"print('Authorization: Bearer {OAI}')\nprint('{HF}')\n")
    out = LocalExecutor(redact=red.redact_text).run(
        ProcessSpec(argv=[sys.executable, "-c", code], log_path=str(log)), on_line=lines.append)
    assert out.exit_code == 0
    path = tmp_path / "transcript.jsonl"
    with TranscriptWriter(path, header(base_url_token=ANT), red) as w:
        w(E.SkillFinished(seq=1, ts="t", stage="s", skill="s", tool_use_id="t", exit_code=0, duration_s=1, ok=True,
                          result={"data": {"api_key": "raw-api-key-value", "log": "\n".join(lines)},
                                  "echo": f"{ANT} env-token-value-123 {HF}"}))
        w(E.ToolCall(seq=2, ts="t", turn=1, stage="s", tool_use_id="t", name="x",
                     input={"headers": {"authorization": f"Bearer {OAI}"}}))
    for text in (log.read_text(), path.read_text(), "\n".join(out.log_tail)):
        for secret in (ANT, OAI, HF, "env-token-value-123", "raw-api-key-value"):
            assert secret not in text
        assert REDACTED in text


# -- item 19: keys, encoded forms, the process redactor, the child environment, the scrubber --------


def test_dictionary_keys_are_redacted_and_kept_apart():
    r = Redactor(env={"A_TOKEN": "first-secret-1", "B_TOKEN": "second-secret-2"})
    out = r.redact_obj({"first-secret-1": 1, "second-secret-2": 2, "path/first-secret-1/x": 3, "plain": 4})
    assert out == {REDACTED: 1, f"{REDACTED} (2)": 2, f"path/{REDACTED}/x": 3, "plain": 4}


def test_url_and_base64_forms_of_a_secret_are_redacted():
    import base64
    from urllib.parse import quote

    s = "tw/Q9+xZ3=pL2mN8"
    r = Redactor(env={"MY_SECRET": s})
    for form in (s, quote(s, safe=""), base64.b64encode(s.encode()).decode(),
                 base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")):
        assert r.redact_text(f"x {form} y") == f"x {REDACTED} y", form


def test_the_process_redactor_follows_the_environment_and_added_secrets(monkeypatch):
    from conductor import redact

    monkeypatch.setattr(redact, "_extra", [])
    monkeypatch.setenv("LATE_API_KEY", "late-secret-value")
    assert redact.default_redactor().redact_text("late-secret-value") == REDACTED
    redact.add_secret("from-the-release-file")
    assert redact.default_redactor().redact_text("from-the-release-file") == REDACTED


def test_a_child_gets_no_secret_it_was_not_given(tmp_path, monkeypatch):
    from conductor.redact import child_env

    env = {"HF_TOKEN": "hf-value-123456", "ANTHROPIC_API_KEY": "sk-value-123456", "PATH": "/bin",
           "TOKENIZERS_PARALLELISM": "false", "SSH_KEY_FILE": "/home/u/.ssh/id"}
    assert child_env(env, ["HF_TOKEN"]) == {"HF_TOKEN": "hf-value-123456", "PATH": "/bin",
                                            "TOKENIZERS_PARALLELISM": "false", "SSH_KEY_FILE": "/home/u/.ssh/id"}
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-value-123456")
    monkeypatch.setenv("HF_TOKEN", "hf-value-123456")
    code = "import os; print(os.environ.get('ANTHROPIC_API_KEY'), os.environ.get('HF_TOKEN'))"
    spec = ProcessSpec(argv=[sys.executable, "-c", code], pass_secrets=["HF_TOKEN"])
    assert LocalExecutor(scrub_env=True).run(spec).log_tail == ["None hf-value-123456"]
    assert LocalExecutor().run(spec).log_tail == ["sk-value-123456 hf-value-123456"]  # skills' own executors


def test_the_scrubber_redacts_text_masks_binary_and_never_follows_links(tmp_path):
    from conductor.scrub import scrub_tree

    secret = "scrub-me-secret-42"
    r = Redactor(env={"X_SECRET": secret})
    outside = tmp_path / "outside.txt"
    outside.write_text(f"outside {secret}")
    root = tmp_path / "attempt"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "result.json").write_text(json.dumps({secret: f"path/{secret}"}))
    (root / "weights.bin").write_bytes(b"\x00\xff" + secret.encode() + b"\x00\xfe")
    (root / "clean.txt").write_text("nothing here")
    (root / "link.txt").symlink_to(outside)
    changed = scrub_tree(root, r)
    assert sorted(Path(c).name for c in changed) == ["result.json", "weights.bin"]
    assert json.loads((root / "sub" / "result.json").read_text()) == {REDACTED: f"path/{REDACTED}"}
    assert (root / "weights.bin").read_bytes() == b"\x00\xff" + b"*" * len(secret) + b"\x00\xfe"
    assert outside.read_text() == f"outside {secret}"  # a link out of the folder is not followed


def test_run_folder_writes_are_redacted(tmp_path, monkeypatch):
    from conductor.fsutil import atomic_write_json, atomic_write_text

    monkeypatch.setenv("SOME_PASSWORD", "fsutil-pass-99")
    atomic_write_json(tmp_path / "a.json", {"fsutil-pass-99": ["x fsutil-pass-99"]})
    atomic_write_text(tmp_path / "b.md", "pw fsutil-pass-99")
    assert "fsutil-pass-99" not in (tmp_path / "a.json").read_text() + (tmp_path / "b.md").read_text()
