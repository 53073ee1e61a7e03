"""The prompts of the perf phases: the set shipped with the project (skills/perf/data/prompts.jsonl,
320 distinct requests of similar length: 64 topics in 5 phrasings) or the user's own JSONL, one
{"prompt": ...} per line.

    pool = PromptPool(load_prompts(None), audit_index=0)   # the shipped set (320 distinct prompts)
    pool.take(8)                                           # 8 prompts never sent before on this endpoint
    pool.audit_prompts(8)                                  # the fixed audit prompt, 8 times (TEST04)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from conductor.fsutil import atomic_write_text
from skills.common.runner import USER_CONFIG_ERROR, SkillFailure

SHIPPED = Path(__file__).resolve().with_name("data") / "prompts.jsonl"


def load_prompts(path: Optional[Path]) -> list[str]:
    src = path or SHIPPED
    try:
        lines = src.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillFailure(USER_CONFIG_ERROR, f"cannot read the prompts file {src}: {exc}") from None
    prompts: list[str] = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise SkillFailure(USER_CONFIG_ERROR, f"{src} line {i} is not JSON") from None
        text = obj.get("prompt") if isinstance(obj, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise SkillFailure(USER_CONFIG_ERROR, f"{src} line {i} has no non-empty 'prompt' string")
        prompts.append(text)
    distinct = list(dict.fromkeys(prompts))
    if not distinct:
        raise SkillFailure(USER_CONFIG_ERROR, f"{src} holds no prompt")
    return distinct


class PromptPool:
    """Fresh prompts for every reference run (never one sent before on this endpoint, so a cache cannot
    speed the reference up too) and one fixed audit prompt that no reference run uses."""

    def __init__(self, prompts: list[str], audit_index: int):
        if audit_index >= len(prompts):
            raise SkillFailure(USER_CONFIG_ERROR, f"audit_index {audit_index} is outside the {len(prompts)} prompts")
        self.audit = prompts[audit_index]
        self.rest = [p for i, p in enumerate(prompts) if i != audit_index]
        self.used = 0

    def take(self, n: int) -> list[str]:
        if self.used + n > len(self.rest):
            raise SkillFailure(USER_CONFIG_ERROR, f"the reference runs need fresh distinct prompts: {self.used + n} "
                                                  f"so far, the prompts file has {len(self.rest)} besides the audit "
                                                  "prompt (fewer queries or repetitions, or a larger file)")
        out = self.rest[self.used:self.used + n]
        self.used += n
        return out

    def audit_prompts(self, n: int) -> list[str]:
        return [self.audit] * n


def needed(queries: list[int], repetitions: int, measurements: int) -> int:
    """Distinct prompts one endpoint needs: every reference run fresh, plus the audit prompt."""
    return sum(queries) * repetitions * measurements + 1


def write_prompts(path: Path, prompts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps({"prompt": p}, ensure_ascii=False) + "\n" for p in prompts))
    return path
