"""Layer groups: the units a sensitivity pass quantizes one at a time, each with the exclusion pattern
that would keep it unquantized. Pure functions over module names (no torch).

    >>> names = ["model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj", "model.layers.1.mlp.up_proj"]
    >>> [(g.key, g.pattern) for g in group_modules(names, "layer")]
    [('model.layers.0', 'model.layers.0.*'), ('model.layers.1', 'model.layers.1.*')]
    >>> [g.pattern for g in group_modules(names, "kind")]
    ['model.layers.*.mlp.up_proj', 'model.layers.*.self_attn.q_proj']

Granularities:
  layer  one group per repeated block (the name up to its first numeric part: `model.layers.7`)
  block  one group per sub-block of a repeated block (`model.layers.7.self_attn`, `model.layers.7.mlp`)
  kind   one group per module name with indices wildcarded (`model.layers.*.mlp.down_proj`)
A module outside any numbered block (an `lm_head` a recipe covers) is a group of its own.
The pattern of a group matches exactly its modules among the names given (checked: `pattern_exact`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gates.recipes import matcher

Granularity = Literal["layer", "block", "kind"]
_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)")


@dataclass(frozen=True)
class Group:
    key: str  # e.g. model.layers.7
    pattern: str  # the exclusion glob that keeps exactly this group unquantized
    modules: tuple[str, ...]


def _key(name: str, granularity: Granularity) -> tuple[str, str]:
    """(key, pattern) of the group a module belongs to."""
    if granularity == "kind":
        pat = _INDEX.sub("*", name)
        return pat, pat
    m = _INDEX.search(name)
    if m is None:
        return name, name
    head = name[: m.end()]
    if granularity == "block":
        rest = name[m.end() + 1:].split(".", 1)
        if len(rest) == 2:  # a sub-block (self_attn, mlp); a direct child of the block stays on its own
            head = f"{head}.{rest[0]}"
        else:
            return name, name
    return head, head + ".*"


def _order(key: str) -> tuple:
    """Numeric order of layer indices (layers.2 before layers.10)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in key.split("."))


def group_modules(names: Sequence[str], granularity: Granularity = "layer") -> list[Group]:
    """The groups of `names` (the weight modules a recipe quantizes), in model order."""
    members: dict[tuple[str, str], list[str]] = {}
    for n in names:
        members.setdefault(_key(n, granularity), []).append(n)
    groups = [Group(k, p, tuple(ms)) for (k, p), ms in members.items()]
    return sorted(groups, key=lambda g: _order(g.key))


def pattern_exact(group: Group, universe: Sequence[str]) -> bool:
    """The group's pattern matches its modules and nothing else among `universe`."""
    m = matcher((group.pattern,))
    return {u for u in universe if m(u)} == set(group.modules)
