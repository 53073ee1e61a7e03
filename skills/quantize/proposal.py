"""A recipe proposal as a quantize call: what `propose_recipe` runs, and the recipe the ptq gate judges.

    r = plan_proposal({"base": "int8_sq", "exclude_sensitive": {"ranking": "...", "top_k": 3},
                       "calib_size": 64, "reason": "..."}, checkpoint=Path(ckpt), base_dir=workspace)
    r.quantize_input   # QuantizeInput(recipe="int8_sq", exclude=[...], calib_size=64, ...)
    r.resolved.recipe  # == plan.effective_recipe(base, r.quantize_input.exclude): the gate's recipe.json

Every refusal is a ProposalError with one sentence (gates/recipes/proposal.py lists them; here also a
calibration file that is unreadable, empty, or holds evaluation questions or held-out text).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from gates.ptq.modules import checkpoint_modules
from gates.recipes.proposal import ProposalError, ResolvedProposal, parse_proposal, resolve
from skills.quantize.models import QuantizeInput


@dataclass(frozen=True)
class PlannedProposal:
    resolved: ResolvedProposal
    quantize_input: QuantizeInput


def check_calib_data(path: Optional[str], base_dir: Optional[Path]) -> Optional[str]:
    """The calibration file as an absolute path (None: the shipped text); ProposalError when unusable."""
    from skills.quantize import calib

    if path is None:
        return None
    p = Path(path).expanduser()
    p = p if p.is_absolute() or base_dir is None else base_dir / p
    try:
        calib.calibration_set(p)
    except OSError as exc:
        raise ProposalError(f"calib_data {str(p)!r} is unreadable: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ProposalError(f"calib_data: {exc}") from None
    return str(p.absolute())


def quantize_input(resolved: ResolvedProposal, source: Optional[str], calib_data: Optional[str]) -> QuantizeInput:
    p = resolved.proposal
    return QuantizeInput(source=source, recipe=p.base, calib_size=p.calib_size, calib_seq_len=p.calib_seq_len,
                         calib_data=calib_data, exclude=list(resolved.exclude_patterns),
                         out_name=f"proposal-{resolved.identity}")


def plan_proposal(data: Any, checkpoint: Path, base_dir: Optional[Path] = None,
                  source: Optional[str] = None) -> PlannedProposal:
    """Validate `data` against the checkpoint's real module names and turn it into a quantize call."""
    proposal = parse_proposal(data)
    calib_data = check_calib_data(proposal.calib_data, base_dir)
    resolved = resolve(proposal, checkpoint_modules(checkpoint), base_dir)
    return PlannedProposal(resolved, quantize_input(resolved, source or str(checkpoint), calib_data))
