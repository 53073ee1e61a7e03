"""serve gate: the canary after a server start-up (DEPLOYMENT_HEALTH_FAILED, INFERENCE_FAILED).
The rules are in gates/serve/decide.py; the default questions in gates/serve/canaries.py."""

from __future__ import annotations

import textwrap

from gates.contract import GateSpec
from gates.serve.collect import collect
from gates.serve.decide import decide
from gates.serve.models import ServeFacts


def _wrap(text: str) -> str:
    return "\n".join(textwrap.fill(par, 96) if par else "" for par in text.split("\n"))


SPEC = GateSpec(
    name="serve",
    facts_model=ServeFacts,
    decide=decide,
    summary=_wrap(
        "Serve gate (the canary): the server must come up healthy, serve the requested model and "
        "answer fact questions sensibly.\n\nDEPLOYMENT_HEALTH_FAILED: the server exited on its own; "
        "/health never answered 200 within load_ceiling_s (re-derived from the probes); health was "
        "lost afterwards; /v1/models does not list the requested model, or lists it serving another "
        "checkpoint than the one started (vLLM's root).\nINFERENCE_FAILED: fewer than 3 "
        "distinct canaries; any canary errored, was not HTTP 200 or came back empty; any completion "
        "degenerate (non-printable, one word or character repeated); any correct answer not specific to "
        "its prompt (the same text or the same answers given to another prompt, or the answers of half "
        "the other canaries in it); fewer than 2/3 of the canaries contain an acceptable answer "
        "(case-insensitive, whole word, invisible characters ignored, not one the prompt itself holds). "
        "A server that answers /health but generates gibberish, or one fixed text, never passes. "
        "Decided on the raw completions, never on a 'passed' flag in the record."),
    collect=collect,
    artifacts_help="SERVE_RECORD.json (the record the serve skill writes)",
)
