"""The few tensor bytes the ptq gate reads: every scale tensor, and three windows of each quantized weight.

Headers say what a checkpoint holds; they cannot say that a calibration produced NaN scales, that a
scale is zero (every weight of the layer dequantizes to zero, or an activation divides by zero), or
that an exporter wrote a quantized weight full of zeros. Those are in the data, and both are small:

  scales    *.weight_scale, *.weight_scale_2, *.input_scale, *.pre_quant_scale, *.k_scale, *.v_scale:
            read whole up to SCALE_WHOLE bytes, else three windows (start, middle, end) of
            SCALE_WINDOW bytes; for each, how many values read are non-finite, zero, negative.
  weights   matrices stored in a quantized dtype: three windows of WEIGHT_WINDOW bytes; all zero?

Total reading is capped (READ_BUDGET); what was not read is counted, never silently passed as
read. Floats are decoded from their bit patterns (F32/F64/F16/BF16 via array/struct, the 8-bit
floats by byte tables), so a 70B checkpoint costs tens of megabytes of reads, not gigabytes.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections import defaultdict
from pathlib import Path
from typing import BinaryIO, Optional

from gates.ptq.headers import CheckpointScan, TensorInfo
from gates.ptq.models import NAMES_CAP, ScaleStats, TensorData

SCALE_SUFFIXES = (".weight_scale", ".weight_scale_2", ".input_scale", ".pre_quant_scale", ".k_scale", ".v_scale")
QUANT_DTYPES = frozenset({"F8_E4M3", "F8_E5M2", "I8", "U8", "F4", "F6_E2M3", "F6_E3M2"})
SCALE_WHOLE = 64 * 1024
SCALE_WINDOW = 16 * 1024
WEIGHT_WINDOW = 4 * 1024
READ_BUDGET = 128 * 1024 * 1024
ITEM = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1}


def _table(pred) -> bytes:
    return bytes(1 if pred(b) else 0 for b in range(256))


# 8-bit floats by their bits: e4m3fn has NaN at S.1111.111 and no infinity; e5m2 is IEEE-like
NONFINITE8 = {"F8_E4M3": _table(lambda b: b & 0x7F == 0x7F), "F8_E5M2": _table(lambda b: b & 0x7C == 0x7C)}
NEGATIVE8 = {k: _table(lambda b, t=t: b & 0x80 and b & 0x7F and not t[b]) for k, t in NONFINITE8.items()}


def windows(nbytes: int, window: int, item: int = 1) -> list[tuple[int, int]]:
    """(start, length) of the windows read in a tensor of nbytes: all of it when small, else start, middle, end."""
    if nbytes <= 3 * window:
        return [(0, nbytes)] if nbytes else []
    mid = (nbytes // 2) // item * item
    return [(0, window), (mid, window), (nbytes - window, window)]


def _floats(dtype: str, data: bytes) -> list[float] | array:
    if dtype == "BF16":  # the high half of an F32
        wide = bytearray(len(data) * 2)
        wide[2::4], wide[3::4] = data[0::2], data[1::2]
        data = bytes(wide)
        dtype = "F32"
    if dtype == "F16":
        return list(struct.unpack(f"<{len(data) // 2}e", data))
    arr = array("f" if dtype == "F32" else "d", data)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr


def value_stats(dtype: str, data: bytes) -> Optional[tuple[int, int, int, int]]:
    """(values, non-finite, zero, negative) of a float buffer; None for a dtype this reader does not decode."""
    if dtype in NONFINITE8:
        nonfinite = data.translate(NONFINITE8[dtype]).count(1)
        return len(data), nonfinite, data.count(0) + data.count(0x80), data.translate(NEGATIVE8[dtype]).count(1)
    if dtype not in ITEM:
        return None
    vals = _floats(dtype, data)
    if math.isfinite(sum(vals)):
        return len(vals), 0, vals.count(0.0), sum(1 for v in vals if v < 0) if min(vals, default=0.0) < 0 else 0
    finite = [v for v in vals if math.isfinite(v)]
    return len(vals), len(vals) - len(finite), finite.count(0.0), sum(1 for v in finite if v < 0)


class _Reader:
    """Reads windows of tensors within a byte budget, keeping the current file open (tensors come file by file)."""

    def __init__(self, root: Path, budget: int):
        self.root, self.left, self.skipped = root, budget, 0
        self._name: Optional[str] = None
        self._fh: Optional[BinaryIO] = None

    def _open(self, name: str) -> BinaryIO:
        if self._name != name or self._fh is None:
            self.close()
            self._fh, self._name = open(self.root / name, "rb"), name
        return self._fh

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh, self._name = None, None

    def read(self, t: TensorInfo, spans: list[tuple[int, int]]) -> Optional[bytes]:
        need = sum(n for _, n in spans)
        if need > self.left:
            self.skipped += 1
            return None
        self.left -= need
        try:
            fh = self._open(t.file)
            parts = []
            for start, n in spans:
                fh.seek(t.offset + start)
                parts.append(fh.read(n))
        except OSError:
            self.skipped += 1
            return None
        return b"".join(parts)


def _scale(reader: _Reader, name: str, t: TensorInfo) -> Optional[ScaleStats]:
    item = ITEM.get(t.dtype, 1)
    spans = windows(t.nbytes, SCALE_WINDOW, item) if t.nbytes > SCALE_WHOLE else [(0, t.nbytes)]
    data = reader.read(t, spans)
    stats = value_stats(t.dtype, data) if data is not None else None
    if stats is None:
        return None
    n, nonfinite, zero, negative = stats
    return ScaleStats(name=name, dtype=t.dtype, numel=t.numel, values_read=n, complete=n == t.numel,
                      nonfinite=nonfinite, zero=zero, negative=negative)


def _bad(s: ScaleStats) -> tuple[bool, bool, bool]:
    """(non-finite, negative, every value read zero): what no exporter writes in a scale."""
    return bool(s.nonfinite), bool(s.negative), s.values_read > 0 and s.zero == s.values_read


def _read_all(reader: _Reader, ordered: list[tuple[str, TensorInfo]]) -> tuple[list[ScaleStats], list[str], int]:
    stats = [s for s in (_scale(reader, n, t) for n, t in ordered if n.endswith(SCALE_SUFFIXES)) if s is not None]
    zero, sampled = [], 0
    for name, t in ordered:
        if name.endswith(".weight") and len(t.shape) >= 2 and t.dtype in QUANT_DTYPES:
            data = reader.read(t, windows(t.nbytes, WEIGHT_WINDOW))
            sampled += data is not None
            if data and not data.strip(b"\0"):
                zero.append(name)
    return stats, zero, sampled


def read_tensor_data(root: Path, scan: CheckpointScan, budget: int = READ_BUDGET) -> TensorData:
    """Counts of bad scales (and the worst few), and the quantized weights whose every sampled byte is zero."""
    by_file: dict[str, list[tuple[str, TensorInfo]]] = defaultdict(list)
    for name, t in scan.tensors.items():
        by_file[t.file].append((name, t))
    ordered = [nt for f in sorted(by_file) for nt in sorted(by_file[f], key=lambda nt: nt[1].offset)]
    reader = _Reader(root, budget)
    try:
        stats, zero, sampled = _read_all(reader, ordered)
    finally:
        reader.close()
    bad = [(_bad(s), s) for s in stats]
    worst = sorted((b for b in bad if any(b[0])), key=lambda b: (not b[0][0], not b[0][1], b[1].name))
    return TensorData(scales_read=len(stats), scales_nonfinite=sum(b[0][0] for b in bad),
                      scales_negative=sum(b[0][1] for b in bad), scales_all_zero=sum(b[0][2] for b in bad),
                      scales_flagged=[s for _, s in worst[:NAMES_CAP]], weights_sampled=sampled,
                      zero_weights=zero[:NAMES_CAP], zero_weights_count=len(zero), unread=reader.skipped,
                      budget_bytes=budget)
