"""The autopilot: a deterministic operator that drives the chain without an LLM.

For the open stage it calls the stage's skill with what `skill.operator_call(ctx, last_failure)`
proposes, and answers each failure from the triage table: retry_once -> the same call again;
repair_and_retry -> the operator's repair (None: declare the point infeasible); ask_human (after
the conductor's approver allowed a retry) -> the operator's repair, or ask the person once when
there is none. When it has nothing honest left to do it says so and calls no tool; the loop then
ends the run NEEDS_HUMAN. It is the default provider when no API key is set.

    provider = AutopilotProvider(skills)   # run_release attaches it to the run (attach(run))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from conductor.engine.tools import ACCEPT_FAILURE, ASK_HUMAN, DECLARE_INFEASIBLE
from conductor.providers.base import ModelRequest, ModelResponse, ProviderError
from conductor.runtime.skill import Skill
from conductor.transcript.events import Usage


@dataclass
class _StageMemory:
    last_input: Optional[dict[str, Any]] = None
    last_failure: Optional[dict[str, Any]] = None
    asked: bool = False
    stuck: Optional[str] = None  # why the operator stopped calling tools in this stage


@dataclass
class _Seen:
    """What the last user message tells the operator."""

    failure: Optional[dict[str, Any]] = None
    refusal: Optional[str] = None
    answered: bool = False


class AutopilotProvider:
    name = "autopilot"
    model = "autopilot-1"

    def __init__(self, skills: Sequence[Skill]):
        self.skills: dict[str, Skill] = {}
        for s in skills:
            self.skills.setdefault(s.stage, s)
        self._run: Any = None
        self._mem: dict[str, _StageMemory] = {}

    def attach(self, run: Any) -> None:
        """The run offers `skill_context(stage)`: what the stage's skill would see now."""
        self._run = run

    def complete(self, req: ModelRequest, on_text: Optional[Callable[[str], None]] = None) -> ModelResponse:
        if self._run is None:
            raise ProviderError("the autopilot is not attached to a run", transient=False)
        stage = req.stage
        skill = self.skills.get(stage)
        mem = self._mem.setdefault(stage, _StageMemory())
        seen = _read_last_user(req.messages, skill.name if skill else "")
        resp = self._decide(req, stage, skill, mem, seen)
        if on_text:
            for b in resp.content:
                if b.get("type") == "text":
                    on_text(b["text"])
        return resp

    def _decide(self, req: ModelRequest, stage: str, skill: Optional[Skill], mem: _StageMemory,
                seen: _Seen) -> ModelResponse:
        if skill is None:
            return _say(f"No skill is registered for stage {stage!r}; a person must take over.")
        if mem.stuck:
            return _say(mem.stuck)
        if seen.refusal is not None:
            mem.stuck = (f"The operator's call to {skill.name} was refused ({seen.refusal[:200]}); "
                         "a person must take over.")
            return _say(mem.stuck)
        if seen.answered:
            mem.stuck = "The person's answer needs a decision the autopilot cannot take; a person must take over."
            return _say(mem.stuck)
        if seen.failure is not None:
            mem.last_failure = {**seen.failure, "input": mem.last_input}
            if seen.failure.get("action") == "retry_once" and mem.last_input is not None:
                return self._call(req, skill, mem, mem.last_input, f"Transient {seen.failure.get('failure_class')}: "
                                                                   "retrying the same call once.")
        inp = skill.operator_call(self._run.skill_context(stage), mem.last_failure)
        if inp is not None:
            last = mem.last_failure
            why = "First call." if last is None else f"Repair after {last.get('failure_class')}."
            return self._call(req, skill, mem, inp, why)
        return self._no_repair(req, mem)

    def _no_repair(self, req: ModelRequest, mem: _StageMemory) -> ModelResponse:
        fail = mem.last_failure or {}
        fc = fail.get("failure_class", "the failure")
        if fail.get("action") == "ask_human":
            if mem.asked:
                mem.stuck = f"No repair for {fc}; a person must decide."
                return _say(mem.stuck)
            mem.asked = True
            return _tool(req, ASK_HUMAN, {"question": f"{fc}: {fail.get('detail', '')[:500]} The operator has no "
                                                      "repair to try. How should the release proceed?"},
                         f"No repair for {fc}: asking the person.")
        if not fail:
            reason = "The skill's operator proposes no call for this stage."
            return _tool(req, DECLARE_INFEASIBLE, {"reason": reason}, reason)
        reason = f"No honest repair left after {fc}: {str(fail.get('detail', ''))[:500]}"
        if fail.get("action") == "infeasible":
            return _tool(req, DECLARE_INFEASIBLE, {"reason": reason}, reason)
        # the failure stands: the run ends with the decision its class implies, not INFEASIBLE
        return _tool(req, ACCEPT_FAILURE, {"reason": reason}, reason)

    def _call(self, req: ModelRequest, skill: Skill, mem: _StageMemory, inp: dict[str, Any], why: str) -> ModelResponse:
        mem.last_input = dict(inp)
        return _tool(req, skill.name, inp, f"{why} Calling {skill.name} with {json.dumps(inp, sort_keys=True)}.")


def _read_last_user(messages: list[dict[str, Any]], skill_name: str) -> _Seen:
    seen = _Seen()
    if not messages or messages[-1].get("role") != "user":
        return seen
    content = messages[-1].get("content")
    if not isinstance(content, list):
        return seen
    names = _tool_names(messages)
    for block in content:
        if block.get("type") != "tool_result":
            continue
        name = names.get(block.get("tool_use_id", ""), "")
        text = block.get("content") if isinstance(block.get("content"), str) else json.dumps(block.get("content"))
        if name == ASK_HUMAN:
            seen.answered = True
        elif name == skill_name and block.get("is_error"):
            body = _as_json(text)
            if body is not None and body.get("status") == "failed":
                seen.failure = body
            else:
                seen.refusal = text
    return seen


def _tool_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    for msg in reversed(messages):
        if msg.get("role") == "assistant" and isinstance(msg.get("content"), list):
            return {b.get("id", ""): b.get("name", "") for b in msg["content"] if b.get("type") == "tool_use"}
    return {}


def _as_json(text: str) -> Optional[dict[str, Any]]:
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _tool(req: ModelRequest, name: str, inp: dict[str, Any], text: str) -> ModelResponse:
    return ModelResponse(content=[{"type": "text", "text": text},
                                  {"type": "tool_use", "id": f"toolu_ap_{req.turn:04d}", "name": name, "input": inp}],
                         stop_reason="tool_use", usage=Usage(), model=AutopilotProvider.model, cost_usd=0.0)


def _say(text: str) -> ModelResponse:
    return ModelResponse(content=[{"type": "text", "text": text}], stop_reason="end_turn", usage=Usage(),
                         model=AutopilotProvider.model, cost_usd=0.0)
