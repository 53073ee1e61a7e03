"""The API key of an endpoint that already runs (a vLLM on the cluster, a NIM): read from the
environment variable the user named, held in memory, never written (not in args, records or logs).

    key = api_key_from_env("NIM_API_KEY", "the candidate endpoint")   # SkillFailure when unset
"""

from __future__ import annotations

import os
from typing import Optional

from skills.common.runner import USER_CONFIG_ERROR, SkillFailure


def api_key_from_env(name: Optional[str], who: str = "the endpoint") -> Optional[str]:
    """None when no variable is named; the key when it is set; USER_CONFIG_ERROR when it is not."""
    if not name:
        return None
    key = os.environ.get(name)
    if not key:
        raise SkillFailure(USER_CONFIG_ERROR, f"{who}'s API key variable ${name} is not set")
    return key
