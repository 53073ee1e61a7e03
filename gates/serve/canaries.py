"""The default canary set: short fact questions even a 135M instruct model answers at temperature 0.

Each answer list is what a correct completion must contain (case-insensitive, whole word). The
serve skill asks these; the collector replaces a recorded answer list with the one here whenever
the prompt is one of these, so the producer cannot weaken the answer key.

    >>> DEFAULT_CANARIES[0].prompt
    'What is the capital of France?'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Canary:
    prompt: str
    must_contain: tuple[str, ...]


DEFAULT_CANARIES: tuple[Canary, ...] = (
    Canary("What is the capital of France?", ("Paris",)),
    Canary("What is 2 + 2?", ("4", "four")),
    Canary("What color is the sky on a clear day?", ("blue",)),
    Canary("How many days are there in a week?", ("7", "seven")),
    Canary("What is the opposite of hot?", ("cold",)),
    Canary("What do bees make?", ("honey",)),
)


def key(prompt: str) -> str:
    return " ".join(prompt.casefold().split())


ANSWER_KEY: dict[str, tuple[str, ...]] = {key(c.prompt): c.must_contain for c in DEFAULT_CANARIES}


def as_records() -> list[dict[str, object]]:
    """The set as the serve skill sends it: [{"prompt": ..., "must_contain": [...]}]."""
    return [{"prompt": c.prompt, "must_contain": list(c.must_contain)} for c in DEFAULT_CANARIES]
