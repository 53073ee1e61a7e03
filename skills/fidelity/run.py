"""Measure the candidate's fidelity to the baseline on the held-out text; write the raw per-document record.

    python -m skills.fidelity.run --baseline CKPT --simulated-state STATE --out fidelity_measure.json
    python -m skills.fidelity.run --baseline CKPT --candidate CKPT2 --out fidelity_measure.json

Each model is loaded once (the simulated candidate as the evaluate skill builds it: the source under
modelopt's calibrated quantizers, weights folded), both read every held-out document once, and the
record (skills/fidelity/measure.py) goes to --out atomically. The gate (python -m gates.fidelity
--artifacts OUT [BASELINE_LMEVAL CANDIDATE_LMEVAL]) re-derives every figure from it. Exit 0 written,
2 bad input (one sentence on stderr), 1 the measurement failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

from skills.fidelity.measure import measure, summary
from skills.quantize.calib import CALIBRATION_FILE, load_corpus

FORMAT = "conductor-fidelity/1"
HELDOUT_FILE = CALIBRATION_FILE.with_name("fidelity_heldout.txt")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_candidate(args: argparse.Namespace, dtype: Any) -> tuple[Any, str]:
    from transformers import AutoModelForCausalLM

    if args.simulated_state:
        import modelopt.torch.quantization as mtq

        from skills.quantize.simulated import load_simulated_model

        model = load_simulated_model(args.simulated_state, source=args.baseline, dtype=dtype, device="cpu")
        mtq.fold_weight(model)  # as skills/evaluate/lmeval_main.py does: same numbers, faster
        return model, f"simulated:{args.simulated_state}"
    return AutoModelForCausalLM.from_pretrained(args.candidate, dtype=dtype).eval(), str(args.candidate)


def tokenizers_match(base_tok: Any, candidate: Optional[str], docs: list[Any]) -> bool:
    """The candidate's own tokenizer (a checkpoint that ships one) must encode every document the same."""
    if not candidate or not (Path(candidate) / "tokenizer_config.json").is_file():
        return True
    from transformers import AutoTokenizer

    from skills.quantize.calib import render

    tok = AutoTokenizer.from_pretrained(candidate)
    return all(tok(render(d, base_tok), add_special_tokens=False)["input_ids"]
               == base_tok(render(d, base_tok), add_special_tokens=False)["input_ids"] for d in docs)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = getattr(torch, args.dtype)
    docs = load_corpus(Path(args.heldout))[: args.max_docs or None]
    t0 = time.monotonic()
    tok = AutoTokenizer.from_pretrained(args.baseline)
    base = AutoModelForCausalLM.from_pretrained(args.baseline, dtype=dtype).eval()
    t1 = time.monotonic()
    cand, cand_name = load_candidate(args, dtype)
    t2 = time.monotonic()
    stats = measure(base, cand, tok, docs, max_tokens=args.max_tokens,
                    progress=lambda i, n: print(f"PROGRESS {i}/{n} documents", file=sys.stderr, flush=True))
    t3 = time.monotonic()
    return {
        "format": FORMAT, "baseline": str(args.baseline), "candidate": cand_name, "dtype": args.dtype, "device": "cpu",
        "heldout": {"path": str(Path(args.heldout).resolve()), "sha256": sha256(Path(args.heldout)),
                    "documents": len(docs)},
        "calibration": {"path": str(Path(args.calibration).resolve()), "sha256": sha256(Path(args.calibration))},
        "tokenizer_match": tokenizers_match(tok, args.candidate, docs), "torch_version": torch.__version__,
        "seconds": {"load_baseline": round(t1 - t0, 2), "load_candidate": round(t2 - t1, 2),
                    "measure": round(t3 - t2, 2)},
        "summary": summary(stats), "docs": [s.as_json() for s in stats],
    }


def parse(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m skills.fidelity.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", required=True, help="the baseline checkpoint directory")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--candidate", help="a candidate checkpoint transformers can load")
    who.add_argument("--simulated-state", help="the quantize run's simulated_state.pt (built on --baseline)")
    p.add_argument("--out", required=True, help="where to write the record (JSON)")
    p.add_argument("--heldout", default=str(HELDOUT_FILE), help="held-out corpus (calibration.txt format)")
    p.add_argument("--calibration", default=str(CALIBRATION_FILE),
                   help="the calibration corpus (the gate checks that no held-out document is in it)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.add_argument("--max-docs", type=int, default=0, help="only the first N documents (0 = all)")
    p.add_argument("--max-tokens", type=int, default=1024, help="truncate each document to this many tokens")
    return p.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse(argv)
    for label, path in (("--baseline", args.baseline), ("--candidate", args.candidate),
                        ("--simulated-state", args.simulated_state), ("--heldout", args.heldout),
                        ("--calibration", args.calibration)):
        if path and not Path(path).exists():
            print(f"{label}: {path} does not exist", file=sys.stderr)
            return 2
    try:
        record = run(args)
    except Exception as exc:  # a failed measurement is a result, with its reason, never a traceback
        print(f"fidelity measurement failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    os.replace(tmp, args.out)
    s = record["summary"]
    print(json.dumps({"out": str(args.out), **s, "seconds": record["seconds"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
