"""Pack self-test: a quality pack is scored only if its verifier can say both yes and no.

For every item of every `conductor_pack_*` task (skills/evaluate/tasks/conductor_packs/):
  positive control  the item's `reference` answer must score 1.0 on every metric;
  negative controls every junk answer must score 0.0 on every metric: the empty answer, the prompt
                    echoed, lm-eval's dummy model's answer ("lol"), a refusal, "{}", "0", "OK", and
                    the reference answer of the *next* item (a verifier that checks only the format,
                    not this item's content, passes that one).
A pack where a negative control scores anything, or a reference fails, is broken: its scores
would mean nothing, so the evaluation must refuse to score it (EVAL_JUDGE_FAILED: the scorer
cannot judge). `refusal(...)` says why in one sentence, or None.

    python -m skills.evaluate.packs                 # every pack; exit 0 sound, 1 broken, 2 unreadable
    python -m skills.evaluate.packs --pack math --json

Hook (next round): skills/evaluate/run.py, before lm-eval starts, for the tasks named
`conductor_pack_*`: `reason = refusal(self_test(packs_of(tasks)))`; a reason ends the attempt with
EVAL_JUDGE_FAILED and no score (cost: ~0.1 s per pack, no model).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Optional, Sequence

PACK_DIR = Path(__file__).resolve().with_name("tasks") / "conductor_packs"
TASK_PREFIX = "conductor_pack_"
MIN_ITEMS = 100
FIXED_CONTROLS = {"dummy": "lol", "refusal": "I'm sorry, but I can't help with that.", "braces": "{}",
                  "zero": "0", "ok": "OK"}


@dataclass
class PackCheck:
    pack: str
    items: int = 0
    reference_failures: list[dict[str, Any]] = field(default_factory=list)  # positive control
    control_passes: list[dict[str, Any]] = field(default_factory=list)  # negative controls that scored
    problems: list[str] = field(default_factory=list)  # data problems (ids, size, unreadable)

    @property
    def ok(self) -> bool:
        return not (self.reference_failures or self.control_passes or self.problems)

    def summary(self) -> str:
        if self.ok:
            return (f"{self.pack}: {self.items} items; every reference passes, every negative control "
                    f"({len(FIXED_CONTROLS) + 3} per item) scores 0")
        parts = list(self.problems)
        if self.control_passes:
            c = self.control_passes[0]
            parts.append(f"{len(self.control_passes)} negative control(s) score above 0, e.g. {c['control']} on "
                         f"{c['id']} ({c['metrics']})")
        if self.reference_failures:
            r = self.reference_failures[0]
            parts.append(f"{len(self.reference_failures)} reference answer(s) fail, e.g. {r['id']} ({r['metrics']})")
        return f"{self.pack}: " + "; ".join(parts)


def load_utils(pack_dir: Path = PACK_DIR) -> ModuleType:
    """The packs' utils.py, loaded from its file (as lm-eval loads it)."""
    path = Path(pack_dir) / "utils.py"
    spec = importlib.util.spec_from_file_location(f"conductor_pack_utils_{abs(hash(str(path)))}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no verifier module at {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def controls(items: Sequence[dict[str, Any]], i: int) -> dict[str, str]:
    """The negative controls of item i: junk answers that must score 0 on every metric."""
    doc = items[i]
    out = {"empty": "", "echo": str(doc.get("prompt", ""))}
    out.update(FIXED_CONTROLS)
    if len(items) > 1:
        out["other_reference"] = str(items[(i + 1) % len(items)].get("reference", ""))
    return out


def check_items(pack: str, items: Sequence[dict[str, Any]], verify: Any, *, min_items: int = MIN_ITEMS) -> PackCheck:
    res = PackCheck(pack=pack, items=len(items))
    ids = [d.get("id") for d in items]
    if len(items) < min_items:
        res.problems.append(f"{len(items)} items, fewer than {min_items}")
    if len(set(ids)) != len(ids) or None in ids:
        res.problems.append("item ids missing or repeated")
    for i, doc in enumerate(items):
        if doc.get("pack") != pack:
            res.problems.append(f"item {doc.get('id')} names pack {doc.get('pack')!r}")
            break
        ref = verify(doc, str(doc.get("reference", "")))
        if not ref or any(v != 1.0 for v in ref.values()):
            res.reference_failures.append({"id": doc["id"], "metrics": ref})
        for name, answer in controls(items, i).items():
            m = verify(doc, answer)
            if any(v != 0.0 for v in m.values()):
                res.control_passes.append({"id": doc["id"], "control": name, "metrics": m})
    return res


def self_test(packs: Optional[Iterable[str]] = None, pack_dir: Path = PACK_DIR,
              min_items: int = MIN_ITEMS) -> list[PackCheck]:
    """Check the named packs (default: every pack the utils module lists)."""
    utils = load_utils(pack_dir)
    out = []
    for pack in packs or utils.PACKS:
        if pack not in utils.VERIFIERS:
            out.append(PackCheck(pack=pack, problems=[f"no verifier for pack {pack!r}"]))
            continue
        path = Path(pack_dir) / f"{pack}.jsonl"
        try:
            items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, ValueError) as exc:
            out.append(PackCheck(pack=pack, problems=[f"data unreadable: {exc}"]))
            continue
        out.append(check_items(pack, items, utils.VERIFIERS[pack], min_items=min_items))
    return out


def packs_of(tasks: Iterable[str]) -> list[str]:
    """The pack names among lm-eval task names (conductor_pack_math -> math)."""
    return [t[len(TASK_PREFIX):] for t in tasks if t.startswith(TASK_PREFIX)]


def refusal(checks: Sequence[PackCheck]) -> Optional[str]:
    """One sentence when some pack must not be scored, else None."""
    bad = [c for c in checks if not c.ok]
    if not bad:
        return None
    return ("refusing to score quality pack(s) whose verifier cannot tell a junk answer from a right one: "
            + " | ".join(c.summary() for c in bad))


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m skills.evaluate.packs", description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", action="append", help="a pack name (repeatable); default every pack")
    p.add_argument("--dir", default=str(PACK_DIR), help="the packs' task folder")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = p.parse_args(argv)
    try:
        checks = self_test(args.pack, Path(args.dir))
    except (OSError, SyntaxError, AttributeError) as exc:
        print(f"cannot load the pack verifiers from {args.dir}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{**asdict(c), "ok": c.ok} for c in checks], indent=2))
    else:
        print("\n".join(("ok     " if c.ok else "BROKEN ") + c.summary() for c in checks))
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
