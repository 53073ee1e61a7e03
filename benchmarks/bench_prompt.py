"""How big is the first request the agent gets in each stage? (issue 9, item 23)

    python benchmarks/bench_prompt.py [--transcript transcripts/demo_smollm2_fp8_cpu.jsonl] [--context 16384]

Replays a recorded run through the real loop with the real skills' tool definitions and SKILL.md
docs (the skills never run: replay serves their recorded results) and catches every request the loop
sends the provider. For the first request of each stage it prints the characters of the system
prompt, the tool definitions and the messages, and the tokens of the whole request (system + tools +
messages, as JSON) with the SmolLM2 tokenizer (a stand-in for a self-hosted model's; Claude's
tokenizer counts differ by some percent). The target: every first request, plus the agent's
max_tokens, fits a 16k context. Exit 1 when one does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import conductor.replay as replay  # noqa: E402
from conductor.config import ReleaseConfig  # noqa: E402

TOKENIZER = Path.home() / ".cache" / "conductor" / "models" / "smollm2-135m-instruct"


def _real_skills(seg: Any) -> list[Any]:
    """The recorded plan's skills, as the real ones (docs, descriptions, input schemas)."""
    from skills.registry import default_skills

    real = {s.name: s for s in default_skills()}
    return [real.get(r.name, r) for r in replay.recorded_skills.__wrapped__(seg)]  # type: ignore[attr-defined]


def capture(path: Path) -> list[Any]:
    """Every request the loop builds while replaying `path`."""
    seen: list[Any] = []
    complete = replay.ReplayProvider.complete

    def spy(self: Any, req: Any, on_text: Any = None) -> Any:
        seen.append(req)
        return complete(self, req, on_text)

    original = replay.recorded_skills
    wrapped = lambda seg: _real_skills(seg)  # noqa: E731
    wrapped.__wrapped__ = original  # type: ignore[attr-defined]
    replay.recorded_skills, replay.ReplayProvider.complete = wrapped, spy  # type: ignore[assignment]
    try:
        replay.replay_transcript(path, accept_partial=True)
    finally:
        replay.recorded_skills, replay.ReplayProvider.complete = original, complete  # type: ignore[assignment]
    return seen


def sizes(req: Any, tok: Any) -> dict[str, int]:
    system = "".join(b.get("text", "") for b in req.system)
    tools = json.dumps(req.tools, ensure_ascii=False)
    messages = json.dumps(req.messages, ensure_ascii=False)
    out = {"system": len(system), "tools": len(tools), "messages": len(messages)}
    out["chars"] = sum(out.values())
    out["tokens"] = len(tok(system + tools + messages)["input_ids"]) if tok is not None else -1
    out["max_tokens"] = req.max_tokens
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transcript", type=Path, default=ROOT / "transcripts" / "demo_smollm2_fp8_cpu.jsonl")
    ap.add_argument("--context", type=int, default=16384, help="the self-hosted model's context (tokens)")
    args = ap.parse_args()
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(TOKENIZER))
    except Exception as exc:  # no tokenizer here: characters only
        print(f"(no tokenizer: {exc}; characters only)")
        tok = None
    by_stage: dict[str, list[Any]] = {}
    for req in capture(args.transcript):
        by_stage.setdefault(req.stage, []).append(req)
    print(f"first request per stage, replaying {args.transcript.name} (max_tokens default "
          f"{ReleaseConfig().model_dump().get('provider_max_tokens', 4096)}); 'largest': any request of the stage")
    print(f"{'stage':16} {'system':>8} {'tools':>8} {'messages':>9} {'chars':>8} {'tokens':>8} {'+max_tokens':>12} "
          f"{'requests':>9} {'largest':>8}")
    worst = 0
    for stage, reqs in by_stage.items():
        s = sizes(reqs[0], tok)
        largest = max(sizes(r, tok)["tokens"] for r in reqs)
        need = largest + s["max_tokens"]
        worst = max(worst, need)
        print(f"{stage:16} {s['system']:8} {s['tools']:8} {s['messages']:9} {s['chars']:8} {s['tokens']:8} "
              f"{s['tokens'] + s['max_tokens']:12} {len(reqs):9} {largest:8}")
    fits = tok is None or worst <= args.context
    print(f"largest request + max_tokens: {worst} tokens; {'fits' if fits else 'does NOT fit'} "
          f"a {args.context}-token context")
    return 0 if fits else 1


if __name__ == "__main__":
    raise SystemExit(main())
