"""The hash chain that makes a transcript tamper-evident (schema_version 2).

Every line of a version-2 transcript, the header included, carries `hash`:

    hash = sha256( previous line's hash (64 lowercase hex digits; "" for the header)
                   + canonical JSON of the line without its "hash" key )

where the canonical JSON is `json.dumps(line, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False)` encoded as UTF-8. A line that is changed, removed, inserted
or moved breaks the chain at that line (or the next), and the reader says where. A version-1
transcript has no chain: it can be read and replayed, but it is not tamper-evident.

    h = link(prev, data)               # what the writer adds as data["hash"]
    v = ChainVerifier(); v.feed(1, header_dict); v.feed(2, event_dict) ...; v.broken
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Optional

HASH_KEY = "hash"
GENESIS = ""  # the "previous hash" of the header


def canonical(data: dict[str, Any]) -> bytes:
    """The bytes a line's hash covers: its JSON without the hash, keys sorted, compact."""
    body = {k: v for k, v in data.items() if k != HASH_KEY}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def link(prev: str, data: dict[str, Any]) -> str:
    return hashlib.sha256(prev.encode("ascii") + canonical(data)).hexdigest()


@dataclass
class ChainBreak:
    line: int
    seq: Optional[int]
    reason: str

    def sentence(self) -> str:
        where = f"line {self.line}" + (f" (seq {self.seq})" if self.seq is not None else "")
        return f"the hash chain breaks at {where}: {self.reason}"


class ChainVerifier:
    """Checks the lines of a version-2 transcript one by one; the first break is kept."""

    def __init__(self) -> None:
        self.last = GENESIS
        self.lines = 0
        self.broken: Optional[ChainBreak] = None

    def feed(self, line: int, data: dict[str, Any]) -> None:
        if self.broken is not None:
            return
        seq = data.get("seq") if isinstance(data.get("seq"), int) else None
        recorded = data.get(HASH_KEY)
        if not isinstance(recorded, str):
            self.broken = ChainBreak(line, seq, "the line carries no hash (a line added or rewritten by hand?)")
            return
        try:
            expected = link(self.last, data)
        except ValueError:  # NaN/infinity: the writer never hashes those
            expected = ""
        if recorded != expected:
            self.broken = ChainBreak(line, seq, "its hash does not follow from its content and the previous "
                                                "line's hash (the line was changed, or a line before it was "
                                                "removed, inserted or moved)")
            return
        self.last = recorded
        self.lines += 1
