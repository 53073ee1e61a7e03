"""The search ladder: what an unattended run tries after a recipe regressed (the autopilot's policy).

    step = next_step(attempts, ranking)      # attempts: the proposals tried so far, the release's first
    step.action     # "sensitivity" (measure first: step.input), "propose" (step.proposal), or "stop"
    step.reason     # one sentence for the transcript

Rungs, in order; a rung is skipped when its proposal would repeat an attempt (same base, exclusions and
calibration), and the budget (`max_recipes`, the release's first recipe included) ends the ladder:
  1. exclude    the first attempt's format and calibration, with the `top_k` most sensitive layer groups
                of a sensitivity ranking (measured for that format and calibration) kept unquantized;
  2. calibrate  rung 1's exclusions with the calibration raised to at least CALIB_RAISED sequences;
  3. widen      the next format of WIDER (more bits, or the same bits with a floating-point format
                that tolerates outliers without smoothing), at the raised calibration, no exclusions.
notes/search.md gives the measurements behind the order (int8_sq on SmolLM2-135M).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

# the format to try when a format fails (a release may allow only some of them: the caller filters)
WIDER: dict[str, str] = {"nvfp4": "fp8", "w4a8_awq": "fp8", "int4_awq": "int8_sq", "int8_sq": "fp8"}
TOP_K = 3
CALIB_RAISED = (64, 256)  # sequences x tokens: the quantize skill's defaults
DEFAULT_CALIB = (64, 256)


@dataclass(frozen=True)
class Step:
    action: str  # sensitivity | propose | stop
    reason: str
    proposal: Optional[dict[str, Any]] = None
    input: dict[str, Any] = field(default_factory=dict)  # the sensitivity skill's input


def _calib(p: Mapping[str, Any]) -> tuple[int, int]:
    return int(p.get("calib_size", DEFAULT_CALIB[0])), int(p.get("calib_seq_len", DEFAULT_CALIB[1]))


def _key(p: Mapping[str, Any]) -> tuple:
    sens = p.get("exclude_sensitive") or {}
    return (p["base"], tuple(sorted(p.get("exclude") or [])), sens.get("ranking"), sens.get("top_k"), _calib(p),
            p.get("calib_data"))


def _rungs(first: Mapping[str, Any], ranking: Optional[Mapping[str, Any]], ranking_path: Optional[str],
           top_k: int) -> list[tuple[str, Optional[dict[str, Any]], str]]:
    """(rung, proposal or None when it cannot be built yet, why) in ladder order."""
    base, (size, seq) = first["base"], _calib(first)
    raised = (max(size, CALIB_RAISED[0]), max(seq, CALIB_RAISED[1]))
    hurt = [r for r in (ranking or {}).get("ranking", []) if float(r.get("effect", 0)) > 0]
    k = min(top_k, len(hurt))
    excl = {"exclude_sensitive": {"ranking": ranking_path, "top_k": k}} if ranking_path and k else None
    out: list[tuple[str, Optional[dict[str, Any]], str]] = []
    out.append(("exclude", {"base": base, "calib_size": size, "calib_seq_len": seq, **excl} if excl else None,
                f"keep the {k} most sensitive layer group(s) of {base} unquantized (sensitivity ranking), "
                "same calibration"))
    if raised != (size, seq):
        out.append(("calibrate", {"base": base, "calib_size": raised[0], "calib_seq_len": raised[1], **(excl or {})},
                    f"raise the calibration to {raised[0]} x {raised[1]} tokens"
                    + (", keeping the sensitive groups unquantized" if excl else "")))
    if base in WIDER:
        out.append(("widen", {"base": WIDER[base], "calib_size": raised[0], "calib_seq_len": raised[1]},
                    f"{WIDER[base]} instead of {base}, at {raised[0]} x {raised[1]} calibration tokens"))
    return out


def next_step(attempts: Sequence[Mapping[str, Any]], ranking: Optional[Mapping[str, Any]] = None,
              ranking_path: Optional[str] = None, max_recipes: int = 3, top_k: int = TOP_K,
              allowed: Optional[Sequence[str]] = None) -> Step:
    """The next rung for `attempts` (proposal dicts, the release's recipe first; each regressed)."""
    if not attempts:
        raise ValueError("the ladder starts after a first attempt")
    if len(attempts) >= max_recipes:
        return Step("stop", f"the recipe budget is spent ({len(attempts)} of max_recipes {max_recipes} tried)")
    first, tried = attempts[0], {_key(a) for a in attempts}
    if ranking is not None and ranking.get("recipe") != first["base"]:
        ranking = None  # measured for another format: not evidence for this one
    for rung, proposal, why in _rungs(first, ranking, ranking_path, top_k):
        if proposal is None:
            if ranking is None:
                size, seq = _calib(first)
                return Step("sensitivity", f"measure which layer groups {first['base']} hurts before excluding any",
                            input={"recipe": first["base"], "calib_size": size, "calib_seq_len": seq,
                                   "top_k": top_k})
            continue  # measured, and no group hurt: nothing to exclude
        if allowed is not None and proposal["base"] not in allowed:
            continue
        if _key(proposal) in tried:
            continue
        return Step("propose", f"ladder rung '{rung}': {why}", proposal={**proposal, "reason": f"ladder rung "
                                                                          f"'{rung}': {why}"})
    return Step("stop", f"the ladder is exhausted after {len(attempts)} attempt(s): every rung was tried or "
                        "does not apply")
