"""The module names of a checkpoint, read from its safetensors headers (what a recipe proposal is checked
against). Here rather than in gates.recipes: reading headers is the ptq gate's, and recipes sit below it."""

from __future__ import annotations

from pathlib import Path

from gates.ptq.headers import scan_checkpoint
from gates.recipes.proposal import ModelModules, ProposalError


def checkpoint_modules(root: Path) -> ModelModules:
    """Read the module names of `root` from its safetensors headers (the index's shards too); no tensor data."""
    scan = scan_checkpoint(Path(root))
    if scan.problems:
        file, problem = scan.problems[0]
        raise ProposalError(f"cannot read the weight names of {str(root)!r}: {file}: {problem}")
    mats = {n[: -len(".weight")]: t for n, t in scan.tensors.items() if n.endswith(".weight") and len(t.shape) >= 2}
    if not mats:
        raise ProposalError(f"{str(root)!r} holds no weight matrices (*.safetensors)")
    return ModelModules(str(root), {n: t.numel for n, t in sorted(mats.items())},
                        {n: t.dtype for n, t in sorted(mats.items())}, scan.tensor_bytes)
