"""A subcommand that an installed package adds to `conductor` (e.g. `conductor bench`, from skills/perf).

Declared in the entry point group `conductor.commands`; conductor.app.wiring finds them and the CLI
adds each one, so the CLI never imports the package that implements it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Command:
    name: str  # the subcommand: `conductor NAME ...`
    help: str  # one line for `conductor --help`
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]  # the process exit code


__all__ = ["Command"]
