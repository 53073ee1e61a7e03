"""The layer rules are executable: the import-linter contracts in pyproject.toml hold, and break when
an import runs the wrong way (planted in a copy of the tree); conductor/ shows its parts."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
PARTS = ("app", "engine", "gating", "providers", "replay", "runtime", "schemas", "slurm", "transcript", "tui")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on the tree at `root` (its pyproject.toml, its packages first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_import_contracts_hold():
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Contracts: 8 kept, 0 broken." in out.stdout, out.stdout[-2000:]


def _copy_tree(dst: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    for pkg in ("conductor", "gates", "skills"):
        shutil.copytree(ROOT / pkg, dst / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.md",
                                                                             "*.yaml", "*.jsonl", "*.tcss"))


def _plant(path: Path, line: str) -> None:
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + "\n" + rest if sep else line + "\n" + text, encoding="utf-8")


def test_planted_violations_break_their_contracts_and_only_those(tmp_path):
    _copy_tree(tmp_path)
    _plant(tmp_path / "gates" / "contract.py", "import conductor.runtime.clock  # planted: a gate imports ours")
    _plant(tmp_path / "conductor" / "providers" / "base.py", "import conductor.gating.runner  # planted: sideways")
    out = lint_imports(tmp_path)
    assert out.returncode != 0
    broken = {line.rsplit(" ", 1)[0] for line in out.stdout.splitlines() if line.endswith(" BROKEN")}
    assert broken == {"gates import nothing of ours (a gate runs, and is audited, alone)",
                      "conductor's layers: each part imports only the parts below it"}, out.stdout[-3000:]
    assert "gates.contract -> conductor.runtime.clock" in out.stdout
    assert "conductor.providers.base -> conductor.gating.runner" in out.stdout


def test_a_planted_circle_is_found(tmp_path):
    _copy_tree(tmp_path)
    _plant(tmp_path / "conductor" / "engine" / "stages.py", "import conductor.engine.loop  # planted: a circle")
    _plant(tmp_path / "conductor" / "runtime" / "workspace.py", "import conductor.engine.stages  # planted: upward")
    out = lint_imports(tmp_path)
    broken = {line.rsplit(" ", 1)[0] for line in out.stdout.splitlines() if line.endswith(" BROKEN")}
    assert broken == {"no import circle between sibling modules or packages",
                      "conductor's layers: each part imports only the parts below it"}, out.stdout[-3000:]
    assert "- .stages -> .loop" in out.stdout or "- .loop -> .stages" in out.stdout


def test_conductor_shows_its_parts():
    top = sorted(p.name for p in (ROOT / "conductor").iterdir() if p.name != "__pycache__")
    modules = [n for n in top if n.endswith(".py")]
    assert modules == ["__init__.py", "cli.py"] and len(top) <= 12
    assert {n for n in top if (ROOT / "conductor" / n).is_dir()} == set(PARTS)


@pytest.mark.parametrize("part", PARTS)
def test_each_part_says_in_two_lines_what_it_owns(part):
    doc = ast.get_docstring(ast.parse((ROOT / "conductor" / part / "__init__.py").read_text(encoding="utf-8")))
    assert doc, part
    first = doc.strip().split("\n\n")[0].splitlines()  # what it owns: the first paragraph
    assert 1 <= len(first) <= 2, first
