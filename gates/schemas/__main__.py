"""Write (or --check) the committed JSON Schemas of every gate."""

from __future__ import annotations

import argparse
import sys

from gates import GATE_NAMES
from gates.schemas import REGENERATE, SCHEMA_DIR, dumps, generated


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gates.schemas", description=__doc__)
    p.add_argument("--check", action="store_true", help="exit 1 if a committed schema differs from the models")
    args = p.parse_args(argv)
    drift = []
    for name in GATE_NAMES:
        for fname, schema in generated(name).items():
            path = SCHEMA_DIR / fname
            text = dumps(schema)
            if args.check:
                if not path.exists() or path.read_text(encoding="utf-8") != text:
                    drift.append(fname)
            else:
                path.write_text(text, encoding="utf-8")
    if drift:
        print(f"schemas drifted from the models: {', '.join(drift)}\nregenerate with: {REGENERATE}",
              file=sys.stderr)
        return 1
    if not args.check:
        print(f"wrote {2 * len(GATE_NAMES)} schemas to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
