"""What the agent reads: the stable system prefix (cached), the open stage, nudges and notices.

The prefix holds what does not change while a stage is open (role, rules, the release, the plan,
the triage table, and the SKILL.md of the open stage's skills only) and carries `cache_control`, so
a provider that supports prompt caching pays for it once per stage. The open stage comes in a
second, uncached block. Each stage gets only what it needs, so that a self-hosted model with a 16k
context can drive a run (benchmarks/bench_prompt.py measures it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence

from conductor.stages import StagePlan
from conductor.triage import table_markdown

ROLE = """You are the release operator of `conductor`. You release a quantized checkpoint of a model:
quantize -> serve -> evaluate baseline and candidate -> compare -> audits. You act only through tools."""

RULES = """Rules:
1. One stage is open at a time; you are offered only its tools plus the generic ones
   (read_artifact, list_workspace, ask_human, declare_infeasible, accept_failure).
2. After each skill call the conductor runs the stage's gates on the raw artifacts. Only a PASS of
   every gate seals the stage and opens the next. You cannot argue with a gate, and what you say
   about results is never evidence: the gates re-derive every number.
3. A failure comes back as a tool result with failure_class, meaning, evidence, hint and the retries
   left for that class in this stage. Follow the triage table. Retries are bounded; when they are
   spent the run ends with the decision the table names.
4. Repair honestly: change what caused the failure (recipe, settings), never hide it. When no honest
   repair exists, call accept_failure (the run ends with the decision the failure implies), or
   declare_infeasible when this model/recipe cannot work here at all.
5. Be brief. Call a tool in every turn while a stage is open."""


def skill_docs(skills: Sequence[Any]) -> str:
    parts = []
    for s in skills:
        doc = ""
        path: Optional[Path] = getattr(s, "doc_path", None)
        if path is not None and Path(path).is_file():
            doc = Path(path).read_text(encoding="utf-8").strip()
        parts.append(f"## Skill `{s.name}` (stage {s.stage})\n{s.description}\n\n{doc}".rstrip())
    return "\n\n".join(parts)


def system_prefix(config: dict[str, Any], plan: Sequence[StagePlan], skills: Sequence[Any],
                  stage: Optional[str] = None) -> str:
    """The stable prefix; with `stage`, the docs of that stage's skills only and a compact triage table
    (each failure's tool result brings its class's meaning and hint)."""
    release = {k: config.get(k) for k in ("model", "recipe", "tasks", "threshold", "threshold_kind")}
    plan_lines = [f"- {p.name}: depends on {list(p.depends_on) or 'nothing'}; tools {list(p.skills)}; "
                  f"gates {list(p.gates)}" for p in plan]
    own = [s for s in skills if stage is None or s.stage == stage]
    return "\n\n".join([
        ROLE, RULES,
        "# The release\n" + json.dumps(release, sort_keys=True),
        "# The plan\n" + "\n".join(plan_lines),
        "# Triage table\n" + table_markdown(meanings=stage is None),
        "# Skills\n" + (skill_docs(own) or "(no skill in this stage)"),
    ])


def system_blocks(prefix: str, stage: str, tools: Sequence[str], attempt: int) -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": prefix, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": f"# Now\nOpen stage: {stage} (skill calls so far in this stage: {attempt}). "
                                 f"Stage tools: {list(tools)}."},
    ]


def opening(stage: str, sealed: Sequence[str]) -> str:
    if sealed:
        return (f"The run was resumed. Sealed stages (not re-run): {list(sealed)}. "
                f"Stage {stage!r} is open: carry on.")
    return f"Begin the release. Stage {stage!r} is open."


def nudge(stage: str, tools: Sequence[str], n: int, limit: int) -> str:
    return (f"Stage {stage!r} is still open and your turn called no tool ({n} of {limit} such turns "
            f"before the run stops as NEEDS_HUMAN). Call one of {list(tools)}, or ask_human, or "
            f"declare_infeasible with a reason.")


CUT_OFF = ("Your previous turn was cut off (stop_reason max_tokens), so none of its tool calls ran. "
           "Repeat what you meant, more concisely.")

NOT_RUN_CUT_OFF = "Not run: the turn was cut off by max_tokens before it ended."
NOT_RUN_DECIDED = "Not run: the run already has its decision."
