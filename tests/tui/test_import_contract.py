"""The conductor core never imports textual: only conductor/tui/ may, and only lazily from launch()."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# conductor.tui itself, its view model and its bridge to the core are textual-free too: the CLI
# imports `launch`, and the model is unit-tested without a terminal
TEXTUAL_FREE_TUI = ("conductor.tui", "conductor.tui.model", "conductor.tui.chart", "conductor.tui.replay_model",
                    "conductor.tui.bridge")

PROGRAM = textwrap.dedent("""
    import importlib, pathlib, sys
    names = []
    for top in ("conductor", "gates"):  # from the files: walk_packages would import conductor.tui's subpackages
        for p in sorted(pathlib.Path(top).rglob("*.py")):
            parts = p.with_suffix("").parts
            if parts[:2] == ("conductor", "tui") or parts[-1] == "__main__":
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    names += list(%r)
    for name in names:
        importlib.import_module(name)
        assert "textual" not in sys.modules, f"importing {name} pulled in textual"
    print(len(names), "modules")
""") % (TEXTUAL_FREE_TUI,)


def test_core_imports_without_textual():
    out = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.split()[0]) > 10


def test_only_conductor_tui_mentions_textual():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "conductor").rglob("*.py")
                 if "tui" not in p.relative_to(ROOT).parts and "textual" in p.read_text(encoding="utf-8")]
    assert offenders == []
