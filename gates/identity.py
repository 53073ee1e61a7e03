"""Are two evaluated sides different models? The one identity rule the compare and audit gates share.

A comparison of a model with itself is not a comparison: the compare gate calls it
COMPARISON_NOT_LIKE_FOR_LIKE, the audit gate CACHING_DETECTED (the candidate's results are the
baseline's). Both ask `same_model`, which answers with a sentence (why the two sides cannot be
shown to differ) or None (they differ).

The rule, in order:
  1. the same evaluated identity on both sides (after `normalise`) -> the same model;
  2. the same weight hash (sha256 over the checkpoint's weight files) -> the same model;
  3. neither both identities nor both weight hashes known -> cannot be shown to differ;
  4. otherwise the sides differ.

`normalise` reads an identity (a checkpoint path or a served model name) the way a file system or a
server would: Unicode NFC, characters that print nothing (format and control characters: zero-width
spaces, BOMs, bidi marks) removed, surrounding white space stripped, a trailing parenthetical note
removed (the evaluate skill writes "/ckpt/m (served by vllm 0.11 as 'candidate')": how the model was
served or simulated, not which model; a candidate evaluated in-process is named by its export's
path, so it stays distinct from its source), and a path's redundant parts ('//', '/./', 'a/../', a
trailing '/') collapsed. So "/ckpt/m", "/ckpt/m/", "/ckpt/./m", "/ckpt/m\u200b" and "/ckpt/m (served
as 'baseline')" are one identity. Case is kept (paths and served names are case-sensitive).
"""

from __future__ import annotations

import posixpath
import unicodedata
from typing import Optional

from gates.text import prints_nothing


def _invisible(ch: str) -> bool:
    """A character that prints nothing (gates.text, the one definition every gate uses), except the two kinds
    that are part of a name where they stand: a space between words (Zs) and a combining mark (M*) on its
    base character."""
    return prints_nothing(ch) and unicodedata.category(ch) != "Zs" and unicodedata.category(ch)[0] != "M"


def _strip_note(s: str) -> str:
    """"/ckpt/m (served by vllm 0.11 as 'baseline')" -> "/ckpt/m": a trailing parenthetical note says how
    the model was evaluated (served, simulated), not which model it is."""
    while s.endswith(")"):
        depth, i = 0, len(s) - 1
        while i >= 0:
            depth += {")": 1, "(": -1}.get(s[i], 0)
            if depth == 0:
                break
            i -= 1
        if i <= 0 or not s[i - 1].isspace():
            return s
        s = s[:i].rstrip()
    return s


def normalise(identity: Optional[str]) -> Optional[str]:
    """The comparable form of an evaluated identity; None when nothing identifying is left."""
    if identity is None:
        return None
    s = unicodedata.normalize("NFC", identity)
    s = _strip_note("".join(ch for ch in s if not _invisible(ch)).strip())
    if "/" in s:
        s = posixpath.normpath(s)
        s = s.rstrip("/") or "/"
    return s or None


def same_model(baseline: Optional[str], candidate: Optional[str], *, baseline_sha256: Optional[str] = None,
               candidate_sha256: Optional[str] = None) -> Optional[str]:
    """None when the two sides are shown to be different models; otherwise the sentence saying why not."""
    bi, ci = normalise(baseline), normalise(candidate)
    if bi is not None and bi == ci:
        return f"the candidate evaluated the baseline's own model ({baseline!r})"
    if baseline_sha256 is not None and baseline_sha256 == candidate_sha256:
        return "the candidate's weights are byte-identical to the baseline's"
    if not ((bi is not None and ci is not None) or (baseline_sha256 is not None and candidate_sha256 is not None)):
        missing = [side for side, v in (("baseline", bi), ("candidate", ci)) if v is None]
        return (f"the evaluated identity of the {' and '.join(missing)} is not recorded (nor a weight hash of "
                f"both sides): cannot establish that the candidate is a different model")
    return None


__all__ = ["normalise", "same_model"]
