"""Read safetensors checkpoints by their headers alone (gates/ptq/tensordata.py reads the few bytes it needs).

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON
(`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`), then the data.
`scan_checkpoint` reads every weight file of a directory (one file, or the shards named by
`model.safetensors.index.json`) and turns each inconsistency into a problem string instead of
an exception: a corrupt checkpoint is a finding, not a crash.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from gates.recipes import DTYPE_BITS

INDEX_NAME = "model.safetensors.index.json"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library refuses larger headers too


class HeaderError(Exception):
    """A safetensors file whose header cannot be trusted; the message says why."""


class TensorInfo(NamedTuple):
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    file: str
    offset: int = 0  # where the tensor's data starts in its file (8 + header length + begin)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass
class FileScan:
    name: str
    file_bytes: int
    tensor_bytes: int = 0
    tensors: int = 0
    error: str | None = None


@dataclass
class CheckpointScan:
    """Every tensor of a checkpoint directory, its weight files, and what was wrong with them."""

    path: Path
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    files: list[FileScan] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file, problem)

    @property
    def tensor_bytes(self) -> int:
        return sum(f.tensor_bytes for f in self.files)

    @property
    def file_bytes(self) -> int:
        return sum(f.file_bytes for f in self.files)


def _entry(name: str, e: object) -> tuple[str, tuple[int, ...], int, int]:
    """Validate one header entry (called for every tensor: kept to plain loops)."""
    if not isinstance(e, dict) or len(e) != 3 or not {"dtype", "shape", "data_offsets"} <= e.keys():
        raise HeaderError(f"tensor {name!r}: entry must have exactly dtype, shape, data_offsets")
    dtype, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
    bits = DTYPE_BITS.get(dtype) if isinstance(dtype, str) else None
    if bits is None:
        raise HeaderError(f"tensor {name!r}: unknown dtype {dtype!r}")
    numel = 1
    for d in shape if type(shape) is list else (-1,):
        if type(d) is not int or d < 0:
            raise HeaderError(f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
        numel *= d
    if (type(offs) is not list or len(offs) != 2 or type(offs[0]) is not int or type(offs[1]) is not int
            or not 0 <= offs[0] <= offs[1]):
        raise HeaderError(f"tensor {name!r}: data_offsets {offs!r} are not [begin, end]")
    expected = (numel * int(bits) + 7) // 8
    if offs[1] - offs[0] != expected:
        raise HeaderError(f"tensor {name!r}: {offs[1] - offs[0]} bytes for {dtype}{shape} (expected {expected})")
    return dtype, tuple(shape), offs[0], offs[1]


def _validate_layout(spans: list[tuple[int, int, str]], data_len: int) -> None:
    """Tensors must tile the data section exactly (no gap, no overlap), like safetensors requires."""
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise HeaderError(f"tensor {name!r} starts at {begin}, expected {pos} (gap or overlap)")
        pos = end
    if pos > data_len:
        raise HeaderError(f"truncated: the header describes {pos} bytes of data, the file holds {data_len}")
    if pos < data_len:
        raise HeaderError(f"{data_len - pos} trailing bytes after the last tensor")


def read_header(path: Path) -> tuple[dict[str, tuple[str, tuple[int, ...], int]], int]:
    """{tensor: (dtype, shape, nbytes)} and the file size, from the header only."""
    entries, size = read_header_offsets(path)
    return {t: e[:3] for t, e in entries.items()}, size


def read_header_offsets(path: Path) -> tuple[dict[str, tuple[str, tuple[int, ...], int, int]], int]:
    """{tensor: (dtype, shape, nbytes, data offset in the file)} and the file size, from the header only."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise HeaderError(f"file is {size} bytes, too short for a safetensors header")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, MAX_HEADER_BYTES):
            raise HeaderError(f"header length {n} exceeds the file ({size} bytes) or the 100 MiB limit")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HeaderError(f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise HeaderError("header is not a JSON object")
    data_len = size - 8 - n
    out, spans = {}, []
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, begin, end = _entry(name, e)
        out[name] = (dtype, shape, end - begin, 8 + n + begin)
        spans.append((begin, end, name))
    _validate_layout(spans, data_len)
    return out, size


def _weight_files(root: Path, scan: CheckpointScan) -> tuple[list[str], dict[str, str] | None]:
    """The files to read and, when sharded, the index's tensor -> file map."""
    index = root / INDEX_NAME
    if not index.exists():
        return sorted(p.name for p in root.glob("*.safetensors") if p.is_file()), None
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise ValueError("weight_map is not a {tensor: file} object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        scan.problems.append((INDEX_NAME, f"unreadable index: {exc}"))
        return sorted(p.name for p in root.glob("*.safetensors") if p.is_file()), None
    return sorted(set(weight_map.values())), weight_map


def _check_index(scan: CheckpointScan, weight_map: dict[str, str], read_ok: set[str]) -> None:
    wrong = [t for t, f in weight_map.items() if f in read_ok and scan.tensors.get(t, None) is None]
    stray = [t for t, info in scan.tensors.items() if weight_map.get(t) != info.file]
    for kind, names in (("listed in the index but absent from its shard", wrong),
                        ("present in a shard but not mapped to it by the index", stray)):
        if names:
            scan.problems.append((INDEX_NAME, f"{len(names)} tensor(s) {kind}, e.g. {sorted(names)[:3]}"))


def _read_one(root: Path, name: str, scan: CheckpointScan) -> bool:
    path = root / name
    if not path.is_file():
        scan.problems.append((name, "weight file is missing"))
        return False
    fs = FileScan(name=name, file_bytes=os.path.getsize(path))
    scan.files.append(fs)
    try:
        entries, _ = read_header_offsets(path)
    except (HeaderError, OSError) as exc:
        fs.error = str(exc)
        scan.problems.append((name, str(exc)))
        return False
    for t, (dtype, shape, nbytes, offset) in entries.items():
        if t in scan.tensors:
            scan.problems.append((name, f"tensor {t!r} also stored in {scan.tensors[t].file}"))
        scan.tensors[t] = TensorInfo(dtype, shape, nbytes, name, offset)
    fs.tensor_bytes, fs.tensors = sum(e[2] for e in entries.values()), len(entries)
    return True


def scan_checkpoint(root: Path) -> CheckpointScan:
    """Headers of every weight file under `root` (not recursive); problems recorded, never raised."""
    scan = CheckpointScan(path=root)
    names, weight_map = _weight_files(root, scan)
    read_ok = {n for n in names if _read_one(root, n, scan)}
    if weight_map is not None:
        _check_index(scan, weight_map, read_ok)
    elif len(names) > 1 and "model.safetensors" not in names:
        scan.problems.append(("*.safetensors", f"{len(names)} weight files but no {INDEX_NAME}"))
    return scan
