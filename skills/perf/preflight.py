"""Before measuring an endpoint: is it reachable, does it serve the model, does it accept the key,
does it answer? A bad name, URL or key is the user's to fix (USER_CONFIG_ERROR); an endpoint that
does not answer is INFRA_TRANSIENT. The warm-up answers are not measured and not judged (the text's
quality is the serve canary's job)."""

from __future__ import annotations

from typing import Any, Optional

from skills.common.apikey import api_key_from_env
from skills.common.endpoint import Endpoint
from skills.common.runner import USER_CONFIG_ERROR, SkillFailure
from skills.perf import Target, endpoint_root

INFRA_TRANSIENT = "INFRA_TRANSIENT"
WARMUP_PROMPT = "Say hello in one short sentence."
REFUSED = (401, 403)


def _who(t: Target) -> str:
    return "the endpoint" if t.role == "endpoint" else f"the {t.role} endpoint"


def api_key(t: Target) -> Optional[str]:
    return api_key_from_env(t.api_key_env, _who(t))


def _listed(t: Target, ep: Endpoint) -> None:
    listing = ep.models()
    if listing.status is None:
        raise SkillFailure(INFRA_TRANSIENT, f"{_who(t)} {t.base_url} does not answer: {listing.error}")
    if listing.status in REFUSED:
        raise SkillFailure(USER_CONFIG_ERROR, f"{_who(t)} {t.base_url} refused the request "
                                              f"(HTTP {listing.status}): check the API key")
    if listing.status == 200 and listing.ids is not None and t.model not in listing.ids:
        raise SkillFailure(USER_CONFIG_ERROR, f"{_who(t)} {t.base_url} serves {listing.ids}, "
                                              f"not {t.model!r}")


def check_target(t: Target, inp: Any) -> None:
    """Raise SkillFailure when the target cannot be measured; warm it up otherwise."""
    ep = Endpoint(endpoint_root(t.base_url), timeout_s=inp.request_timeout_s, api_key=api_key(t))
    _listed(t, ep)
    for i in range(inp.warmup_requests):
        r = ep.chat(t.model, WARMUP_PROMPT, max_tokens=min(8, inp.max_tokens))
        if r.status == 200:
            continue
        cls = USER_CONFIG_ERROR if r.status in REFUSED + (404,) else INFRA_TRANSIENT
        raise SkillFailure(cls, f"{_who(t)} {t.base_url} did not answer warm-up request {i + 1}: "
                                f"{r.error or f'HTTP {r.status}'}")
