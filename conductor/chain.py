"""The hash chain that makes a transcript tamper-evident (schema_version 2).

Every line of a version-2 transcript, the header included, carries `hash`:

    hash = sha256( previous line's hash (64 lowercase hex digits; "" for the header)
                   + canonical JSON of the line without its "hash" key )

where the canonical JSON is `json.dumps(line, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False)` encoded as UTF-8. The writer writes each line as exactly that
canonical JSON with `"hash":"<hex>"` appended as its last key, so a reader checks a line on its bytes
(no re-serialization); a line rewritten in another key order or spacing is checked on its parsed
content instead. A line that is changed, removed, inserted or moved breaks the chain at that line
(or the next), and the reader says where. A version-1 transcript has no chain: it can be read and
replayed, but it is not tamper-evident.

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


_SUFFIX = len(',"hash":"') + 64 + len('"}')


def chained_line(prev: str, data: dict[str, Any]) -> tuple[str, str]:
    """(the line as written, without its newline; its hash): the canonical JSON, hash appended last.
    Raises ValueError on NaN/infinity (the writer makes them strings first)."""
    body = canonical(data)
    h = hashlib.sha256(prev.encode("ascii") + body).hexdigest()
    text = body.decode()
    return text[:-1] + ("," if text != "{}" else "") + f'"{HASH_KEY}":"{h}"}}', h


def _fast(prev: str, raw: bytes) -> Optional[str]:
    """The line's hash when its bytes are a canonical body with the hash appended and the hash holds."""
    line = raw.rstrip(b"\r\n")
    if len(line) <= _SUFFIX or not line.endswith(b'"}') or line[-_SUFFIX:-66] != b',"hash":"':
        return None
    recorded = line[-66:-2].decode("ascii", errors="replace")
    body = line[:-_SUFFIX] + b"}"
    return recorded if hashlib.sha256(prev.encode("ascii") + body).hexdigest() == recorded else None


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

    def feed(self, line: int, data: dict[str, Any], raw: Optional[bytes] = None) -> None:
        if self.broken is not None:
            return
        fast = _fast(self.last, raw) if raw is not None else None
        if fast is not None:
            self.last = fast
            self.lines += 1
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
