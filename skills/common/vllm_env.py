"""Where vLLM can run from: vLLM pins its own torch and transformers, so it usually lives in a
separate virtual environment. Looked up in this order, without starting any process:

1. `$CONDUCTOR_VLLM_PYTHON` (an explicit choice: used as given, or nothing if it is not executable);
2. `<repo>/.venv-vllm/bin/python`, when that environment holds a `vllm` package;
3. the current interpreter, when `vllm` is importable here.

    py = find_vllm_python()          # "/repo/.venv-vllm/bin/python" or None
    loc = locate_vllm()              # the same, with how it was found or why not
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

ENV_VAR = "CONDUCTOR_VLLM_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class VllmLocation:
    python: Optional[str]
    source: str  # env | repo_venv | current | none
    detail: str


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _venv_has_vllm(python: Path) -> bool:
    root = python.parent.parent  # <venv>/bin/python -> <venv>
    return any(root.glob("lib/python3*/site-packages/vllm/__init__.py"))


def locate_vllm(env: Optional[Mapping[str, str]] = None, repo_root: Optional[Path] = None) -> VllmLocation:
    env = os.environ if env is None else env
    explicit = env.get(ENV_VAR, "").strip()
    if explicit:
        if _executable(explicit):
            return VllmLocation(explicit, "env", f"${ENV_VAR}")
        return VllmLocation(None, "env", f"${ENV_VAR}={explicit!r} is not an executable file")
    venv_py = (repo_root or REPO_ROOT) / ".venv-vllm" / "bin" / "python"
    if _executable(str(venv_py)) and _venv_has_vllm(venv_py):
        return VllmLocation(str(venv_py), "repo_venv", f"{venv_py.parent.parent} holds vllm")
    if importlib.util.find_spec("vllm") is not None:
        return VllmLocation(sys.executable, "current", "vllm is importable by the current interpreter")
    return VllmLocation(None, "none", f"no ${ENV_VAR}, no {venv_py.parent.parent} with vllm, "
                                      "and vllm is not importable here")


def find_vllm_python(env: Optional[Mapping[str, str]] = None, repo_root: Optional[Path] = None) -> Optional[str]:
    """The interpreter to run vLLM with, or None when vLLM is not available on this machine."""
    return locate_vllm(env, repo_root).python
