"""Redact what a child process wrote into the run folder, before anything reads, hashes or seals it.

The conductor's own writes are redacted as they happen (conductor.fsutil, the transcript writer,
the executor's logs). A skill or a gate is another process: it writes with its own redactor, which
knows only the secrets it was given (conductor.redact.child_env), and the libraries it drives (lm-eval,
modelopt, transformers, vLLM) write files of their own. So after each skill attempt and after its
gates, the conductor scrubs the attempt's folder with the run's redactor:

- a text file (UTF-8) that holds a secret is rewritten atomically with the secret redacted;
- a binary file has each secret overwritten in place with as many '*' (its length and offsets kept,
  so a safetensors header stays valid); files larger than BINARY_SCAN_BYTES are scanned only that far
  (checkpoint headers), not through gigabytes of weights;
- symbolic links are never followed, and nothing outside the given folders is touched.

    changed = scrub_tree(out_dir, default_redactor())   # relative paths of the files rewritten
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Iterator

from conductor.redact import Redactor

TEXT_MAX_BYTES = 256 * 1024 * 1024  # a larger file is treated as binary (masked in place)
BINARY_SCAN_BYTES = 16 * 1024 * 1024


def _files(root: Path) -> Iterator[Path]:
    if root.is_symlink() or not root.exists():
        return
    if not root.is_dir():
        yield root
        return
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            yield Path(dirpath) / name


def scrub_tree(root: Path, redactor: Redactor, skip: Iterable[Path] = ()) -> list[str]:
    """Redact every regular file under `root` (or `root` itself); returns the files changed."""
    if not redactor.values:
        return []
    needles = [v.encode() for v in redactor.values]
    skipped = {Path(p).absolute() for p in skip}
    changed = []
    for path in _files(Path(root)):
        if path.absolute() in skipped:
            continue
        try:
            if _scrub_file(path, needles, redactor):
                changed.append(str(path))
        except OSError:
            continue  # vanished or unreadable meanwhile: nothing was written
    return changed


def _scrub_file(path: Path, needles: list[bytes], redactor: Redactor) -> bool:
    st = path.lstat()
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return False
    if st.st_size > TEXT_MAX_BYTES:
        return _mask_in_place(path, needles, BINARY_SCAN_BYTES)
    data = path.read_bytes()
    if not any(n in data for n in needles):
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _mask_in_place(path, needles, len(data))
    from gates.contract import atomic_write_text

    atomic_write_text(str(path), redactor.redact_text(text))
    os.chmod(path, stat.S_IMODE(st.st_mode))
    return True


def _mask_in_place(path: Path, needles: list[bytes], limit: int) -> bool:
    with open(path, "r+b") as fh:
        head = fh.read(limit)
        hits = [(i, len(n)) for n in needles for i in _find_all(head, n)]
        for offset, length in hits:
            fh.seek(offset)
            fh.write(b"*" * length)
        if hits:
            fh.flush()
            os.fsync(fh.fileno())
    return bool(hits)


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    i = data.find(needle)
    while i >= 0:
        yield i
        i = data.find(needle, i + 1)
