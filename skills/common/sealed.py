"""Where earlier stages left their artifacts: paths from the sealed results, resolved in the workspace.

    base = eval_output_dir(ctx.workspace, ctx.sealed, "eval_baseline")   # the lm-eval --output_path
    ckpt = checkpoint_dir(ctx.workspace, ctx.sealed, "preflight")        # the source checkpoint

The names below are the contract with the producing skills: an evaluate skill names its lm-eval
output directory `lmeval_dir` (the other names are accepted too); quantize names its export
`export`; preflight names the source `checkpoint`. When no name matches, the one artifact
directory that looks like an lm-eval output (run.json or results_*.json in it) is taken.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

BASELINE_STAGE = "eval_baseline"
CANDIDATE_STAGE = "eval_candidate"
EVAL_DIR_KEYS = ("lmeval_dir", "output_dir", "output_path", "lmeval", "eval_dir", "results_dir")
CHECKPOINT_KEYS = ("checkpoint", "export", "export_dir", "checkpoint_dir", "model_dir")

PathLike = Union[str, Path]


class MissingArtifact(LookupError):
    """An earlier stage is not sealed, or its result does not name the artifact needed."""


def _artifacts(result: Any) -> dict[str, str]:
    arts = getattr(result, "artifacts", None)
    if arts is None and isinstance(result, Mapping):
        arts = result.get("artifacts")
    return dict(arts or {})


def _data(result: Any) -> dict[str, Any]:
    data = getattr(result, "data", None)
    if data is None and isinstance(result, Mapping):
        data = result.get("data")
    return dict(data or {})


def resolve(workspace: PathLike, path: PathLike) -> Path:
    p = Path(path)
    return p if p.is_absolute() else Path(workspace) / p


def sealed_result(sealed: Mapping[str, Any], stage: str) -> Any:
    res = sealed.get(stage)
    if res is None:
        raise MissingArtifact(f"stage {stage!r} has no sealed result (sealed: {sorted(sealed) or 'none'})")
    return res


def named_artifact(workspace: PathLike, sealed: Mapping[str, Any], stage: str, keys: Sequence[str]) -> Optional[Path]:
    """The first artifact of `stage` named by one of `keys`, or None."""
    arts = _artifacts(sealed_result(sealed, stage))
    for k in keys:
        if arts.get(k):
            return resolve(workspace, arts[k])
    return None


def _looks_like_lmeval(path: Path) -> bool:
    if not path.is_dir():
        return False
    if (path / "run.json").is_file() or any(path.glob("results_*.json")):
        return True
    return any(path.glob("*/results_*.json"))


def eval_output_dir(workspace: PathLike, sealed: Mapping[str, Any], stage: str) -> Path:
    """The lm-eval output directory an evaluate stage sealed."""
    found = named_artifact(workspace, sealed, stage, EVAL_DIR_KEYS)
    if found is not None:
        return found
    arts = _artifacts(sealed_result(sealed, stage))
    dirs = [resolve(workspace, p) for p in arts.values()]
    candidates = [p for p in dirs if _looks_like_lmeval(p)]
    if len(candidates) == 1:
        return candidates[0]
    raise MissingArtifact(f"the sealed {stage} result names no lm-eval output directory: expected an artifact "
                          f"named one of {list(EVAL_DIR_KEYS)}, found {sorted(arts) or 'none'}")


def eval_dirs(workspace: PathLike, sealed: Mapping[str, Any]) -> tuple[Path, Path]:
    """(baseline, candidate) lm-eval output directories, as the two evaluate stages sealed them."""
    return eval_output_dir(workspace, sealed, BASELINE_STAGE), eval_output_dir(workspace, sealed, CANDIDATE_STAGE)


def checkpoint_dir(workspace: PathLike, sealed: Mapping[str, Any], stage: str) -> Optional[Path]:
    """The checkpoint a stage sealed (artifact, or data["checkpoint"]), when it names one."""
    found = named_artifact(workspace, sealed, stage, CHECKPOINT_KEYS)
    if found is None:
        ck = _data(sealed_result(sealed, stage)).get("checkpoint")
        found = resolve(workspace, ck) if isinstance(ck, str) and ck else None
    return found


def first_checkpoint(workspace: PathLike, sealed: Mapping[str, Any], stages: Sequence[str]) -> Optional[Path]:
    """The first existing checkpoint directory named by the sealed results of `stages`, in order."""
    for stage in stages:
        if stage not in sealed:
            continue
        p = checkpoint_dir(workspace, sealed, stage)
        if p is not None and p.is_dir():
            return p
    return None


def describe_eval_dir(path: Path) -> dict[str, Any]:
    """What an lm-eval output directory's run record (run.json) says, for a summary."""
    out: dict[str, Any] = {"dir": str(path), "exists": path.is_dir()}
    try:
        rec = json.loads((path / "run.json").read_text(encoding="utf-8"))
        out.update({k: rec.get(k) for k in ("status", "model_identity")})
    except (OSError, ValueError, AttributeError):
        out["run_record"] = None
    return out
