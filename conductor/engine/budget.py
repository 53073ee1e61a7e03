"""Run budgets: turns, tokens, cost, wall time and skill calls per stage. Spent -> BUDGET_EXHAUSTED.

    >>> b = Budget(Budgets(max_turns=1))
    >>> b.charge_turn(Usage(input_tokens=10, output_tokens=5), 0.01)
    >>> b.exhausted()
    'turns: 1 of 1 used'
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from conductor.engine.config import Budgets
from conductor.transcript.events import BudgetUpdate, Usage


class Budget:
    def __init__(self, limits: Budgets, clock: Callable[[], float] = time.monotonic,
                 already_elapsed_s: float = 0.0):
        self.limits = limits
        self._clock = clock
        self._t0 = clock() - already_elapsed_s
        self.turns = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        self.cost_usd = 0.0
        self.stage_calls: dict[str, int] = {}

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._t0

    def charge_turn(self, usage: Usage, cost_usd: float) -> None:
        self.turns += 1
        self.input_tokens += usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_tokens += usage.cache_read_input_tokens
        self.cache_write_tokens += usage.cache_creation_input_tokens
        self.cost_usd += max(0.0, cost_usd)

    def charge_stage_call(self, stage: str) -> None:
        self.stage_calls[stage] = self.stage_calls.get(stage, 0) + 1

    def stage_calls_left(self, stage: str) -> int:
        return max(0, self.limits.max_stage_attempts - self.stage_calls.get(stage, 0))

    def exhausted(self) -> Optional[str]:
        """The first limit reached, as a phrase, or None while there is budget left."""
        lim = self.limits
        if self.turns >= lim.max_turns:
            return f"turns: {self.turns} of {lim.max_turns} used"
        if self.input_tokens >= lim.max_input_tokens:
            return f"input tokens: {self.input_tokens} of {lim.max_input_tokens} used"
        if self.output_tokens >= lim.max_output_tokens:
            return f"output tokens: {self.output_tokens} of {lim.max_output_tokens} used"
        if self.cost_usd >= lim.max_cost_usd:
            return f"cost: ${self.cost_usd:.4f} of ${lim.max_cost_usd:.2f} spent"
        if self.elapsed_s >= lim.max_wall_s:
            return f"wall time: {self.elapsed_s:.0f} s of {lim.max_wall_s:.0f} s"
        return None

    def event(self) -> BudgetUpdate:
        lim = self.limits
        return BudgetUpdate(turns=self.turns, input_tokens=self.input_tokens, output_tokens=self.output_tokens,
                            cache_read_tokens=self.cache_read_tokens, cost_usd=round(self.cost_usd, 6),
                            elapsed_s=round(self.elapsed_s, 3),
                            limits={"max_turns": lim.max_turns, "max_input_tokens": lim.max_input_tokens,
                                    "max_output_tokens": lim.max_output_tokens, "max_cost_usd": lim.max_cost_usd,
                                    "max_wall_s": lim.max_wall_s})

    def snapshot(self) -> dict[str, float]:
        return {"turns": self.turns, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens, "cost_usd": round(self.cost_usd, 6),
                "elapsed_s": round(self.elapsed_s, 3)}
