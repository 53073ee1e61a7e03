"""Item 23: the agent's endpoint, as a self-hosted user meets it.

A 400 from the endpoint (a vLLM server started without tool-choice support, or whose context is too
short for the request) is a configuration problem: exit 2 with the server's own sentence, not SYSTEMIC.
The anthropic SDK talks to a real HTTP server of ours on 127.0.0.1 that answers as vLLM's
/v1/messages does (vllm/entrypoints/anthropic/api_router.py: {"type": "error", "error": {type, message}},
the messages from vllm/renderers). The agent's max_tokens is a setting; each stage gets only its own
skill docs and tools, and a conversation of its own.
"""

from __future__ import annotations

import functools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import conductor.session as session
from conductor import cli
from conductor.providers.scripted import ScriptedProvider, tool_use
from tests.fakes import harness as H
from tests.fakes.skills import FakeSkill

pytestmark = pytest.mark.timeout(60)

VLLM_TOOL_CHOICE = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
VLLM_CONTEXT = ("This model's maximum context length is 16384 tokens. However, your prompt contains 17012 input "
                "tokens, which exceeds this limit even without any output tokens. Please reduce the length of the "
                "input prompt.")


class _Endpoint(BaseHTTPRequestHandler):
    status = 400
    message = VLLM_TOOL_CHOICE
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length", 0))
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        body = json.dumps({"type": "error", "error": {"type": "BadRequestError", "message": self.message}}).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint():
    handler = type("Handler", (_Endpoint,), {"bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_skills(monkeypatch):
    skills = [FakeSkill("quantize"), FakeSkill("compare")]
    monkeypatch.setattr(cli, "build_skills", lambda config=None: skills)
    monkeypatch.setattr(session, "run_session", functools.partial(session.run_session, gate_prefix=H.FAKE_GATES))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return skills


@pytest.mark.parametrize("message", [VLLM_TOOL_CHOICE, VLLM_CONTEXT], ids=["no-tool-choice", "context-too-short"])
def test_a_400_from_the_endpoint_is_a_configuration_error_with_its_sentence(message, endpoint, fake_skills,
                                                                           tmp_path, capsys):
    handler, url = endpoint
    handler.message = message
    ws = tmp_path / "ws"
    code = cli.main(["run", "--headless", "--provider", "anthropic", "--provider-model", "my-model",
                     "--base-url", url, "--workspace", str(ws)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert ("--enable-auto-tool-choice" if message == VLLM_TOOL_CHOICE else "--max-model-len") in err.split(message)[-1]
    decision = json.loads((ws / "decision.json").read_text())
    assert decision["decision"] == "CONFIG_ERROR" and decision["exit_code"] == 2 and message in decision["reason"]
    assert len(handler.bodies) == 1  # a configuration problem is not retried


def test_the_agent_max_tokens_is_a_setting(endpoint, fake_skills, tmp_path, capsys):
    handler, url = endpoint
    release = tmp_path / "release.yaml"
    release.write_text("provider_max_tokens: 1024\n")
    cli.main(["run", "--headless", "--provider", "anthropic", "--base-url", url, "--release", str(release),
              "--workspace", str(tmp_path / "a")])
    cli.main(["run", "--headless", "--provider", "anthropic", "--base-url", url, "--release", str(release),
              "--provider-max-tokens", "2048", "--workspace", str(tmp_path / "b")])
    capsys.readouterr()
    assert [b["max_tokens"] for b in handler.bodies] == [1024, 2048]


def test_each_stage_sees_only_its_own_docs_tools_and_conversation(tmp_path):
    docs = {}
    for stage in ("quantize", "compare"):
        docs[stage] = tmp_path / f"{stage}.md"
        docs[stage].write_text(f"DOC-OF-{stage}: how to call {stage}.\n")
    skills = [FakeSkill("quantize"), FakeSkill("compare")]
    for s in skills:
        s.doc_path = docs[s.stage]
    p = ScriptedProvider(lambda req: tool_use(req.stage, {"recipe": "fp8"}, text=f"working on {req.stage}"))
    r = H.run(tmp_path, skills, p)
    assert r.decision == "ACCEPT"
    first = {}
    for req in p.requests:
        first.setdefault(req.stage, req)
    q, c = first["quantize"], first["compare"]
    system_q, system_c = "".join(b["text"] for b in q.system), "".join(b["text"] for b in c.system)
    assert "DOC-OF-quantize" in system_q and "DOC-OF-compare" not in system_q
    assert "DOC-OF-compare" in system_c and "DOC-OF-quantize" not in system_c
    assert [t["name"] for t in c.tools][-1] == "compare" and "quantize" not in [t["name"] for t in c.tools]
    # the compare stage's conversation starts afresh: the quantize turn is not in it, its result is, as text
    assert [m["role"] for m in c.messages] == ["user"]
    said = json.dumps(c.messages)
    assert "working on quantize" not in said and '\\"status\\": \\"sealed\\"' in said
    assert all(b["type"] == "text" for b in c.messages[0]["content"])
