"""Secret redaction: what must never reach a transcript, a log file or the screen.

A `Redactor` replaces with "[REDACTED]": the values of environment variables whose name looks
secret (*KEY*, *TOKEN*, *SECRET*, *PASSWORD*, *CREDENTIAL*), well-known token shapes (Anthropic,
OpenAI-style and Hugging Face keys, Bearer tokens, Authorization / x-api-key headers), and, in
structured data, any string value whose key looks secret ("api_key", "hf_token", "password").
Dictionary keys are redacted like any other text (a secret used as a task name or inside a path
often ends up as a key). A known secret is also found URL-encoded or base64-encoded.

One redactor per process (`default_redactor()`, built from this process's environment plus the
secrets registered with `add_secret`, such as a key from the release file) is what the run-folder
writers (conductor.fsutil), the headless printer and the CLI's messages use. `child_env` is the
environment a child process gets: without the values of secret-named variables, except the ones
it is given explicitly (the Hugging Face token a skill may need to reach the hub).

    >>> r = Redactor(env={"MY_API_KEY": "abc123secret"})
    >>> r.redact_text("key=abc123secret")
    'key=[REDACTED]'
    >>> r.redact_obj({"api_key": "whatever", "input_tokens": 12})
    {'api_key': '[REDACTED]', 'input_tokens': 12}
"""

from __future__ import annotations

import base64
import os
import re
import threading
from typing import Any, Iterable, Mapping, Optional, Sequence
from urllib.parse import quote

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


HUB_SECRETS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")  # what a skill that reaches the Hugging Face hub may get


def is_secret_env(name: str, value: str) -> bool:
    """A variable named like a secret whose value is long enough to be one (not a path, not a switch)."""
    v = value.strip()
    return bool(SECRET_ENV_NAME.search(name)) and len(v) >= MIN_SECRET_LEN and v.lower() not in _BORING \
        and not v.startswith(("/", "~", "./"))


def secret_env_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables named like secrets, long enough to be one, longest first."""
    values = {value.strip() for name, value in env.items() if is_secret_env(name, value)}
    return sorted(values, key=len, reverse=True)


def encoded_forms(secret: str) -> list[str]:
    """The secret as is, URL-encoded and base64-encoded (standard and URL-safe, with and without padding)."""
    raw = secret.encode()
    b64 = [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    forms = [secret, quote(secret, safe=""), *b64, *(b.rstrip("=") for b in b64)]
    return [f for f in dict.fromkeys(forms) if len(f) >= MIN_SECRET_LEN]


def child_env(env: Mapping[str, str], keep: Sequence[str] = ()) -> dict[str, str]:
    """`env` without the secret-named variables, except those named in `keep`."""
    return {k: v for k, v in env.items() if k in keep or not is_secret_env(k, v)}


class Redactor:
    """Replaces secrets with "[REDACTED]". Build one per run (it reads the environment once)."""

    def __init__(self, env: Optional[Mapping[str, str]] = None, extra_secrets: Iterable[str] = ()):
        env = os.environ if env is None else env
        secrets = secret_env_values(env) + [s for s in extra_secrets if len(s) >= MIN_SECRET_LEN]
        values = sorted({f for s in secrets for f in encoded_forms(s)}, key=len, reverse=True)
        self.values: tuple[str, ...] = tuple(values)  # every form searched for (the scrubber uses them)
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
            out: dict[Any, Any] = {}
            for k, v in obj.items():
                key = self._redact_key(k, out)
                out[key] = self._redact_item(k, v)
            return out
        if isinstance(obj, (list, tuple)):
            return [self.redact_obj(v) for v in obj]
        return obj

    def _redact_key(self, key: Any, taken: dict[Any, Any]) -> Any:
        """A key with its secrets redacted; two keys that redact alike stay apart ("[REDACTED] (2)")."""
        if not isinstance(key, str):
            return key
        red = self.redact_text(key)
        if red == key:
            return key
        n, out = 1, red
        while out in taken:
            n += 1
            out = f"{red} ({n})"
        return out

    def _redact_item(self, key: Any, value: Any) -> Any:
        if isinstance(value, str) and value and isinstance(key, str) and SECRET_KEY_NAME.search(key):
            return REDACTED
        return self.redact_obj(value)

    __call__ = redact_text


NULL_REDACTOR = Redactor(env={})

_extra: list[str] = []
_cache: dict[tuple[str, ...], Redactor] = {}
_lock = threading.Lock()


def add_secret(value: str) -> None:
    """From now on this process's default redactor redacts `value` too (a key from the release file)."""
    with _lock:
        if value and value not in _extra:
            _extra.append(value)


def default_redactor() -> Redactor:
    """This process's redactor: its environment's secrets now, and those added with add_secret."""
    key = tuple(secret_env_values(os.environ)) + ("\0",) + tuple(_extra)
    with _lock:
        red = _cache.get(key)
        if red is None:
            _cache.clear()
            red = _cache[key] = Redactor(env={}, extra_secrets=[*key[:key.index("\0")], *_extra])
        return red
