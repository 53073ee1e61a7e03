"""Secret redaction: what must never reach a transcript, a log file or the screen.

A `Redactor` replaces with "[REDACTED]": the values of environment variables whose name looks
secret (*KEY*, *TOKEN*, *SECRET*, *PASSWORD*, *CREDENTIAL*), well-known token shapes (Anthropic,
OpenAI-style and Hugging Face keys, Bearer tokens, Authorization / x-api-key headers), and, in
structured data, any string value whose key looks secret ("api_key", "hf_token", "password").

    >>> r = Redactor(env={"MY_API_KEY": "abc123secret"})
    >>> r.redact_text("key=abc123secret")
    'key=[REDACTED]'
    >>> r.redact_obj({"api_key": "whatever", "input_tokens": 12})
    {'api_key': '[REDACTED]', 'input_tokens': 12}
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, Mapping, Optional

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 6

SECRET_ENV_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
# a dict key whose string value is a secret: the name ENDS in a secret word ("api_key",
# "hf_token", "x-api-key"); "tokenizer", "input_tokens" or "eos_token" are left alone
SECRET_KEY_NAME = re.compile(
    r"(?:(?:api|access|private|secret|client)[_-]?key|secret|password|passwd|credentials?|"
    r"authorization|cookie|(?:^|api|auth|access|hf|bearer|refresh|session|secret|id|oauth|github)[_-]?token)$",
    re.IGNORECASE)
# values that are never secrets even under a secret-looking name (paths, switches)
_BORING = {"true", "false", "enabled", "disabled", "none", "null", "default"}

# (pattern, replacement): shapes of secrets, wherever they appear
PATTERNS: tuple[tuple[str, str], ...] = (
    (r"(?i)\b(authorization|x-api-key)([\"']?\s*[:=]\s*[\"']?)(?:bearer\s+)?[^\s\"',}]+", r"\1\2" + REDACTED),
    (r"(?i)\bBearer\s+[^\s\"',}]+", "Bearer " + REDACTED),
    (r"sk-ant-[A-Za-z0-9_\-]+", REDACTED),
    (r"\bsk-[A-Za-z0-9_\-]{20,}", REDACTED),
    (r"\bhf_[A-Za-z0-9]{20,}", REDACTED),
)


def secret_env_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables named like secrets, long enough to be one, longest first."""
    values = set()
    for name, value in env.items():
        if not SECRET_ENV_NAME.search(name):
            continue
        v = value.strip()
        if len(v) < MIN_SECRET_LEN or v.lower() in _BORING or v.startswith(("/", "~", "./")):
            continue
        values.add(v)
    return sorted(values, key=len, reverse=True)


class Redactor:
    """Replaces secrets with "[REDACTED]". Build one per run (it reads the environment once)."""

    def __init__(self, env: Optional[Mapping[str, str]] = None, extra_secrets: Iterable[str] = ()):
        env = os.environ if env is None else env
        values = secret_env_values(env) + [s for s in extra_secrets if len(s) >= MIN_SECRET_LEN]
        self._values = re.compile("|".join(re.escape(v) for v in values)) if values else None
        self._patterns = [(re.compile(p), r) for p, r in PATTERNS]
        # one cheap test before the substitutions: most strings hold nothing to redact
        probe = [p for p, _ in PATTERNS] + ([self._values.pattern] if self._values else [])
        self._probe = re.compile("|".join(f"(?:{p.removeprefix('(?i)')})" for p in probe), re.IGNORECASE)

    def redact_text(self, text: str) -> str:
        if not text or not self._probe.search(text):
            return text
        if self._values is not None:
            text = self._values.sub(REDACTED, text)
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        return text

    def redact_obj(self, obj: Any) -> Any:
        """A redacted copy of JSON-like data (dicts, lists, strings); other values unchanged."""
        if isinstance(obj, str):
            return self.redact_text(obj)
        if isinstance(obj, dict):
            return {k: self._redact_item(k, v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.redact_obj(v) for v in obj]
        return obj

    def _redact_item(self, key: Any, value: Any) -> Any:
        if isinstance(value, str) and value and isinstance(key, str) and SECRET_KEY_NAME.search(key):
            return REDACTED
        return self.redact_obj(value)

    __call__ = redact_text


NULL_REDACTOR = Redactor(env={})
