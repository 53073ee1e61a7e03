"""Fake gates with the real gates' names, deciding on a facts file (standard library only).

Facts: {"pass": bool, "failure_class": str, "detail": str, "sleep": s, "crash": bool,
"garbage": bool, "drop": float, "threshold": float}. With "drop", the gate passes iff
drop <= threshold (`--threshold` overrides it: replay's re-gating). The compare gate puts the
decision in evidence.decision, as the real one does.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

ACCEPT_DECISIONS = {"ACCURACY_REGRESSION": "REGRESSION", "VERBOSITY_EXCEEDED": "REGRESSION"}


def load_schema(gate: str, kind: str) -> dict:
    if kind == "input":
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}
    from gates.contract import Verdict

    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            **Verdict.model_json_schema(mode="serialization", by_alias=True)}


def _arg(name: str) -> Any:
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv else None


def main(gate: str) -> None:
    with open(_arg("--input"), encoding="utf-8") as fh:
        facts = json.load(fh)
    if _arg("--threshold") is not None:
        facts["threshold"] = float(_arg("--threshold"))
    if facts.get("sleep"):
        time.sleep(float(facts["sleep"]))
    if facts.get("crash"):
        raise RuntimeError("the fake gate crashed")
    if facts.get("garbage"):
        print("this is not a verdict")
        raise SystemExit(0)
    if "drop" in facts:
        ok = facts["drop"] <= facts.get("threshold", 0.01)
        fc = None if ok else facts.get("failure_class", "ACCURACY_REGRESSION")
    else:
        ok = bool(facts.get("pass", True))
        fc = None if ok else facts.get("failure_class", "UNKNOWN")
    evidence: dict[str, Any] = {"facts_seen": sorted(facts)}
    if gate == "compare":
        evidence["decision"] = "ACCEPT" if ok else facts.get("decision") or ACCEPT_DECISIONS.get(fc, "ANOMALOUS")
    detail = facts.get("detail") or ("fake gate passed" if ok else f"fake gate failed with {fc}")
    verdict = {"schema_version": 1, "gate": gate, "pass": ok, "failure_class": fc, "detail": detail,
               "checks": [{"name": "fake", "pass": ok, "detail": detail, "failure_class": fc}],
               "evidence": evidence}
    out = _arg("--facts-out")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(facts, fh)
    print(json.dumps(verdict))
    raise SystemExit(0 if ok else 1)
