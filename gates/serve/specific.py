"""Is each correct canary answer specific to its own prompt? (pure; used by gates/serve/decide.py)

A server that answers every prompt with one text holding every expected answer, or that rotates a few
such texts, "contains" the right answer each time without answering anything. A completion judged
correct for its prompt P is `not_specific` when:

  the same text   its words (normalised: NFKC, case-folded, invisible characters dropped, punctuation
                  ignored) equal those of a completion to another prompt Q;
  the same answers it names two or more canaries' answers, and a completion to another prompt Q names
                  exactly the same ones;
  shotgun         it also holds the answers of at least half of the other canaries (at least 2).

"Other" prompts are those whose answer keys share no answer with P's (two questions whose answer is
"4" may both be answered "4"), and P's own answers are blanked out before Q's are looked for (so
"York" is not found inside "New York"). A correct answer that mentions one other answer in passing
("blue, on a cold day") stays correct; so does the same refusal given to two questions (it is wrong,
not correct-by-accident).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Optional

Norm = Callable[[str], str]


def _found(text: str, answers: frozenset[str]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(a)}(?!\w)", text) for a in answers)


def _blank(text: str, answers: frozenset[str]) -> str:
    for a in sorted(answers, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(a)}(?!\w)", " ", text)
    return text


def not_specific(prompts: Sequence[str], keys: dict[str, frozenset[str]], completions: Sequence[str],
                 correct: Sequence[bool], norm: Norm) -> dict[int, str]:
    """index -> why, for each correct completion that is not specific to its prompt.

    prompts: each canary's prompt key; keys: prompt key -> normalised acceptable answers;
    completions: each canary's text; correct: whether it was judged correct."""
    texts = [norm(c) for c in completions]
    words = [" ".join(re.findall(r"[^\W_]+", t)) for t in texts]
    named: list[frozenset[str]] = []
    for p, t in zip(prompts, texts):
        rest = _blank(t, keys[p])
        named.append(frozenset({p} | {q for q in keys if q != p and not keys[q] & keys[p] and _found(rest, keys[q])}))
    out: dict[int, str] = {}
    for i, p in enumerate(prompts):
        if correct[i]:
            why = _why(i, p, prompts, keys, words, named)
            if why:
                out[i] = why
    return out


def _why(i: int, p: str, prompts: Sequence[str], keys: dict[str, frozenset[str]], words: Sequence[str],
         named: Sequence[frozenset[str]]) -> Optional[str]:
    others = {q for q in keys if q != p and not keys[q] & keys[p]}
    foreign = sorted(named[i] - {p})
    if len(others) >= 2 and len(foreign) >= max(2, math.ceil(len(others) / 2)):
        return f"it also answers {len(foreign)} other canaries ({', '.join(repr(q) for q in foreign[:3])})"
    elsewhere = [j for j, q in enumerate(prompts) if q in others]
    same = next((prompts[j] for j in elsewhere if words[j] and words[j] == words[i]), None)
    if same is not None:
        return f"the same text answered another canary ({same!r})"
    twin = next((prompts[j] for j in elsewhere if len(named[i]) >= 2 and named[j] == named[i]), None)
    if twin is not None:
        return f"it names the same {len(named[i])} canary answers as the completion to {twin!r}"
    return None
