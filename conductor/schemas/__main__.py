"""Write (or --check) the committed JSON Schemas of the transcript line and ReleaseConfig."""

from __future__ import annotations

import argparse
import sys

from conductor.schemas import REGENERATE, SCHEMA_DIR, drifted, dumps, generated


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conductor.schemas", description=__doc__)
    p.add_argument("--check", action="store_true", help="exit 1 if a committed schema differs from the models")
    args = p.parse_args(argv)
    if args.check:
        drift = drifted()
        if drift:
            print(f"schemas drifted from the models: {', '.join(drift)}\nregenerate with: {REGENERATE}",
                  file=sys.stderr)
            return 1
        return 0
    schemas = generated()
    for fname, schema in schemas.items():
        (SCHEMA_DIR / fname).write_text(dumps(schema), encoding="utf-8")
    print(f"wrote {len(schemas)} schemas to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
