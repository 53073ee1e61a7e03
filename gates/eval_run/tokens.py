"""Count completion tokens: with the model's tokenizer when one is on disk, else whitespace words.

The tokenizer is looked for, in order, at: the run record's `tokenizer`, lm-eval's model_args
`tokenizer`, then `pretrained`; each must be a local directory holding `tokenizer.json` (or that
file itself). It is read with the `tokenizers` library when that is installed (an optional
dependency: the gate itself needs only pydantic). Which method counted is recorded per task
(`token_count_method`), since words and tokens are not comparable: a verbosity comparison must
only compare like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional


@dataclass(frozen=True)
class TokenCounter:
    method: str  # "tokenizer" | "whitespace"
    count: Callable[[str], int]
    source: Optional[str] = None  # the tokenizer file used


def whitespace_count(text: str) -> int:
    return len(text.split())


WHITESPACE = TokenCounter("whitespace", whitespace_count)


def _tokenizer_file(candidate: Any) -> Optional[Path]:
    if not isinstance(candidate, str) or not candidate:
        return None
    p = Path(candidate)
    try:
        if p.is_dir() and (p / "tokenizer.json").is_file():
            return p / "tokenizer.json"
        if p.is_file() and p.name.endswith(".json"):
            return p
    except OSError:
        return None
    return None


def token_counter(record_tokenizer: Optional[str], model_args: dict[str, Any]) -> TokenCounter:
    """The best counter available for this run; never raises."""
    for candidate in (record_tokenizer, model_args.get("tokenizer"), model_args.get("pretrained")):
        path = _tokenizer_file(candidate)
        if path is None:
            continue
        try:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(path))
        except Exception:  # ImportError, or a tokenizer.json this library cannot read: try the next
            continue
        return TokenCounter("tokenizer", _count_with(tok), str(path))
    return WHITESPACE


def _count_with(tok: Any) -> Callable[[str], int]:
    """The token count of a text under this `tokenizers.Tokenizer` (no special tokens added)."""
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
