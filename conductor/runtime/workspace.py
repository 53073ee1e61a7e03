"""The run folder: where each stage attempt writes, where seals and the decision live, and hashing.

    root/
      config.json  transcript.jsonl  decision.json  report.md
      logs/                       skill and gate logs
      stages/<stage>/attempt-<n>/ a skill's out_dir (result.json, artifacts, gate facts)
      seals/<stage>.json          written atomically when the stage passes its gates

A seal records the hash of every artifact the stage produced, so `resume` can tell whether a
finished stage still stands (`verify_seal`) without running it again.

    ws = Workspace("runs/r1").create()
    n, out_dir = ws.new_attempt_dir("quantize")
    ws.seal("quantize", {"export": str(out_dir / "export")}, [verdict], result, {"recipe": "fp8"})
    assert ws.verify_seal("quantize") == []
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, ValidationError

from conductor.runtime.clock import utc_now
from conductor.runtime.fsutil import atomic_write_json, atomic_write_text
from conductor.runtime.skill import SkillResult

SEAL_SCHEMA_VERSION = 1
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_ATTEMPT = re.compile(r"^attempt-(\d+)$")

PathLike = Union[str, "os.PathLike[str]"]


class SealError(Exception):
    """A seal cannot be written or read (an artifact to seal is missing, a seal file is corrupt)."""


class ArtifactHash(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str  # relative to the workspace when inside it, else absolute
    sha256: str
    kind: Literal["file", "dir"]


class Seal(BaseModel):
    """seals/<stage>.json: what a passing stage produced, and the verdicts it passed on."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SEAL_SCHEMA_VERSION
    stage: str
    attempt: Optional[int] = None
    sealed_at: str
    artifacts: dict[str, ArtifactHash]  # artifact name -> where and what
    verdicts: list[dict[str, Any]]
    result: SkillResult
    input: dict[str, Any]

    def hashes(self) -> dict[str, str]:
        """path -> sha256, as the stage_sealed event carries them."""
        return {a.path: a.sha256 for a in self.artifacts.values()}


def hash_file(path: PathLike) -> str:
    digest = hashlib.sha256()  # hashlib.file_digest is Python 3.11+; this runs on 3.10 too
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_path(path: PathLike) -> str:
    """sha256 of a file's bytes, or of a directory's manifest: every entry by sorted relative path,
    files with their content hash, symlinks with their target text (never followed), empty
    directories by name. Other special files are skipped. `path` itself may be a symlink."""
    p = Path(path)
    if not p.is_dir():
        return hash_file(p)
    h = hashlib.sha256()
    for rel, entry in _walk(p):
        st = entry.lstat()
        if stat.S_ISLNK(st.st_mode):
            h.update(b"L\0" + rel.encode() + b"\0" + os.readlink(entry).encode() + b"\n")
        elif stat.S_ISDIR(st.st_mode):
            h.update(b"D\0" + rel.encode() + b"\n")
        elif stat.S_ISREG(st.st_mode):
            h.update(b"F\0" + rel.encode() + b"\0" + hash_file(entry).encode() + b"\n")
    return h.hexdigest()


def _walk(root: Path) -> list[tuple[str, Path]]:
    """(posix relative path, path) of everything under root, sorted; symlinked dirs not entered."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in dirnames + filenames:
            full = base / name
            out.append((full.relative_to(root).as_posix(), full))
    return sorted(out)


class Workspace:
    """One run's folder. Paths handed out are absolute; paths stored are relative when inside."""

    def __init__(self, root: PathLike):
        self.root = Path(root).absolute()
        self.stages_dir = self.root / "stages"
        self.logs_dir = self.root / "logs"
        self.seals_dir = self.root / "seals"
        self.transcript_path = self.root / "transcript.jsonl"
        self.decision_path = self.root / "decision.json"
        self.report_path = self.root / "report.md"
        self.config_path = self.root / "config.json"

    def create(self) -> Workspace:
        for d in (self.stages_dir, self.logs_dir, self.seals_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self

    def rel(self, path: PathLike) -> str:
        """Relative posix path when inside the workspace, else the absolute path."""
        p = Path(path).absolute()
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            return str(p)

    def resolve(self, path: PathLike) -> Path:
        """A stored path (relative to the workspace, or absolute) as an absolute path."""
        p = Path(path)
        return p if p.is_absolute() else self.root / p

    def stage_dir(self, stage: str) -> Path:
        if not _STAGE_NAME.match(stage):
            raise ValueError(f"invalid stage name {stage!r}")
        return self.stages_dir / stage

    def attempts(self, stage: str) -> list[int]:
        d = self.stage_dir(stage)
        if not d.is_dir():
            return []
        return sorted(int(m.group(1)) for m in (_ATTEMPT.match(c.name) for c in d.iterdir()) if m)

    def new_attempt_dir(self, stage: str) -> tuple[int, Path]:
        """Create stages/<stage>/attempt-<n> with the next n (1-based); safe against races."""
        n = max(self.attempts(stage), default=0) + 1
        self.stage_dir(stage).mkdir(parents=True, exist_ok=True)
        while True:
            path = self.stage_dir(stage) / f"attempt-{n}"
            try:
                path.mkdir()
                return n, path
            except FileExistsError:
                n += 1

    def log_path(self, name: str) -> Path:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        return self.logs_dir / f"{name}.log"

    def seal_path(self, stage: str) -> Path:
        self.stage_dir(stage)  # validates the name
        return self.seals_dir / f"{stage}.json"

    def seal(self, stage: str, artifacts: dict[str, str], verdicts: list[dict[str, Any]],
             result: SkillResult, input: dict[str, Any], attempt: Optional[int] = None) -> Path:
        """Hash every artifact (name -> path) and write seals/<stage>.json atomically.
        Raises SealError if an artifact does not exist."""
        hashed = {}
        for name, path in artifacts.items():
            p = self.resolve(path)
            if not p.exists():
                raise SealError(f"cannot seal stage {stage!r}: artifact {name!r} ({path}) does not exist")
            hashed[name] = ArtifactHash(path=self.rel(p), sha256=hash_path(p), kind="dir" if p.is_dir() else "file")
        seal = Seal(stage=stage, attempt=attempt, sealed_at=utc_now(), artifacts=hashed,
                    verdicts=verdicts, result=result, input=input)
        self.seals_dir.mkdir(parents=True, exist_ok=True)
        return atomic_write_json(self.seal_path(stage), seal.model_dump(mode="json"))

    def load_seal(self, stage: str) -> Optional[Seal]:
        path = self.seal_path(stage)
        if not path.exists():
            return None
        try:
            return Seal.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError) as exc:
            raise SealError(f"seal {path} is corrupt: {exc}") from None

    def load_seals(self) -> dict[str, Seal]:
        """stage -> Seal for every sealed stage."""
        if not self.seals_dir.is_dir():
            return {}
        names = sorted(p.stem for p in self.seals_dir.glob("*.json") if not p.name.startswith("."))
        return {name: seal for name in names if (seal := self.load_seal(name)) is not None}

    def verify_seal(self, stage: str) -> list[str]:
        """What no longer matches the seal, one sentence per artifact ("export (stages/...):
        changed"); empty when every artifact is still as sealed."""
        seal = self.load_seal(stage)
        if seal is None:
            return [f"stage {stage!r} has no seal"]
        problems = []
        for name, art in seal.artifacts.items():
            p = self.resolve(art.path)
            if not os.path.lexists(p):
                problems.append(f"{name} ({art.path}): vanished")
                continue
            try:
                if hash_path(p) != art.sha256:
                    problems.append(f"{name} ({art.path}): changed since it was sealed")
            except OSError as exc:
                problems.append(f"{name} ({art.path}): unreadable ({exc.strerror or exc})")
        return problems

    def write_config(self, config: dict[str, Any]) -> Path:
        return atomic_write_json(self.config_path, config)

    def write_decision(self, decision: dict[str, Any]) -> Path:
        return atomic_write_json(self.decision_path, decision)

    def write_report(self, text: str) -> Path:
        return atomic_write_text(self.report_path, text)
