"""Calibration data: the text shipped in skills/data/calibration.txt, tokenized and packed.

File format (one document per line): plain lines are prose; `[chat] user ||| assistant ||| ...`
lines are conversations rendered with the tokenizer's chat template when it has one (else as
"User: ... / Assistant: ..."); a literal backslash-n is a line break; `#` lines and blank lines are
skipped. Every tenth document (index % 10 == 9) is held out: it is never used for calibration, and
the runner measures the model's loss on it before and after quantization.

Samples are packed: a seeded permutation of the calibration documents, joined by blank lines, is
cut into `size` sequences of exactly `seq_len` tokens (no padding). When the text is shorter than
`size * seq_len`, it is repeated in a new seeded order, and `epochs` says how often.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "data" / "calibration.txt"
CHAT_PREFIX = "[chat]"
TURN_SEP = "|||"
HOLDOUT_EVERY = 10


@dataclass(frozen=True)
class Doc:
    text: str = ""
    turns: tuple[str, ...] = ()  # a conversation: user, assistant, user, ...

    @property
    def is_chat(self) -> bool:
        return bool(self.turns)


def parse_corpus(text: str) -> list[Doc]:
    docs = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.replace("\\n", "\n")
        if line.startswith(CHAT_PREFIX):
            turns = tuple(t.strip() for t in line[len(CHAT_PREFIX):].split(TURN_SEP))
            if len(turns) < 2 or not all(turns):
                raise ValueError(f"chat line without user and assistant turns: {raw[:80]!r}")
            docs.append(Doc(turns=turns))
        else:
            docs.append(Doc(text=line))
    return docs


def load_corpus(path: Optional[Path] = None) -> list[Doc]:
    p = Path(path) if path else CALIBRATION_FILE
    return parse_corpus(p.read_text(encoding="utf-8"))


def calibration_set(path: Optional[Path] = None) -> tuple[list[Doc], list[Doc]]:
    """(calibration documents, held-out documents). The shipped text: its own split. A user's file: all
    of its documents calibrate, and the held-out loss is measured on the shipped held-out documents (so
    it stays comparable across calibrations); ValueError when the file is empty or contains an
    evaluation question or a held-out document (see `contamination`)."""
    shipped_cal, shipped_held = split(load_corpus())
    if path is None or Path(path).resolve() == CALIBRATION_FILE:
        return shipped_cal, shipped_held
    docs = load_corpus(path)
    if not docs:
        raise ValueError(f"{path} holds no document (one per line; '#' lines are comments)")
    extra = [(f"calibration.txt held-out document {i + 1}", d) for i, d in enumerate(shipped_held)]
    bad = contamination(docs, extra)
    if bad:
        raise ValueError(f"{path} contains text the candidate is judged on, so calibrating on it would tune the "
                         f"candidate to its own test: {'; '.join(bad)}")
    return docs, shipped_held


def split(docs: Sequence[Doc]) -> tuple[list[Doc], list[Doc]]:
    """(calibration, held-out)."""
    return ([d for i, d in enumerate(docs) if i % HOLDOUT_EVERY != HOLDOUT_EVERY - 1],
            [d for i, d in enumerate(docs) if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1])


def render(doc: Doc, tokenizer: Any) -> str:
    if not doc.is_chat:
        return doc.text
    msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(doc.turns)]
    if getattr(tokenizer, "chat_template", None):
        try:
            return tokenizer.apply_chat_template(msgs, tokenize=False)
        except Exception:  # a template that rejects this conversation: plain rendering below
            pass
    return "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in msgs)


@dataclass
class Packed:
    input_ids: Any  # LongTensor [size, seq_len]
    corpus_tokens: int  # tokens in one pass over the calibration documents
    epochs: float  # size * seq_len / corpus_tokens
    chat_docs: int
    prose_docs: int


def _encode(docs: Sequence[Doc], tokenizer: Any) -> list[list[int]]:
    return [tokenizer(render(d, tokenizer), add_special_tokens=False)["input_ids"] for d in docs]


def pack(docs: Sequence[Doc], tokenizer: Any, size: int, seq_len: int, seed: int) -> Packed:
    """`size` sequences of `seq_len` tokens from `docs` (see the module docstring)."""
    import torch

    sep = tokenizer("\n\n", add_special_tokens=False)["input_ids"]
    encoded = [ids + sep for ids in _encode(docs, tokenizer) if ids]
    corpus = sum(len(e) for e in encoded)
    if corpus == 0:
        raise ValueError("the calibration text tokenizes to nothing")
    need, rng, stream = size * seq_len, random.Random(seed), []
    while len(stream) < need:
        order = list(range(len(encoded)))
        rng.shuffle(order)
        for i in order:
            stream.extend(encoded[i])
    ids = torch.tensor(stream[:need], dtype=torch.long).view(size, seq_len)
    n_chat = sum(1 for d in docs if d.is_chat)
    return Packed(ids, corpus, round(need / corpus, 3), n_chat, len(docs) - n_chat)


def heldout_batch(docs: Sequence[Doc], tokenizer: Any, max_seqs: int = 4, seq_len: int = 128) -> Any:
    """A fixed held-out batch (no shuffling): the same docs give the same tokens before and after."""
    return pack(docs, tokenizer, max_seqs, seq_len, seed=0).input_ids


# ------------------------------------------------------------------ contamination guard

EVAL_TASKS_DIR = Path(__file__).resolve().parent.parent / "evaluate" / "tasks"
HELDOUT_FILE = Path(__file__).resolve().parent.parent / "data" / "heldout.txt"  # the sensitivity skill's
HELDOUT_FILES = (HELDOUT_FILE, HELDOUT_FILE.with_name("fidelity_heldout.txt"))  # and the fidelity skill's
MIN_GUARDED_CHARS = 12  # shorter texts ("Paris") would match innocent prose


def _norm(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def guarded_texts() -> list[tuple[str, str]]:
    """(where, normalised text) that calibration must never contain: every question of the evaluation
    tasks shipped in skills/evaluate/tasks, and every document of the held-out texts the sensitivity
    and fidelity skills measure on. Calibrating on them would tune the candidate on what judges it."""
    import json

    out = []
    for path in sorted(EVAL_TASKS_DIR.rglob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            row = json.loads(line) if line.strip() else {}
            q = row.get("question") or row.get("prompt")  # the facts tasks ask questions, the packs give prompts
            if isinstance(q, str) and len(_norm(q)) >= MIN_GUARDED_CHARS:
                out.append((f"{path.relative_to(EVAL_TASKS_DIR)}:{i + 1}", _norm(q)))
    for held in HELDOUT_FILES:
        if held.is_file():
            for i, d in enumerate(load_corpus(held)):
                out.append((f"{held.name} document {i + 1}", _norm(d.text or " ".join(d.turns))[:200]))
    return out


def contamination(docs: Sequence[Doc], extra: Sequence[tuple[str, Doc]] = (), limit: int = 3) -> list[str]:
    """Where `docs` contain an evaluation question, a held-out document, or one of `extra` (where, doc)
    (at most `limit` findings)."""
    text = "\n".join(_norm(d.text or " ".join(d.turns)) for d in docs)
    found = []
    guarded = guarded_texts() + [(w, _norm(d.text or " ".join(d.turns))[:200]) for w, d in extra]
    for where, needle in guarded:
        if needle in text:
            found.append(f"{where} ({needle[:60]!r})")
            if len(found) >= limit:
                break
    return found
