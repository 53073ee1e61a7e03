"""A real lm-eval run on a tiny random model, offline: the eval_run gate's ground truth.

`build_tiny_model(dir)` writes a random 2-layer Llama (hidden 64) with a byte-level BPE tokenizer
(a few hundred tokens, trained here on the fixture tasks' text) that lm-eval's `hf` backend loads
from disk. `run_lm_eval(model_dir, out_dir)` runs the real `python -m lm_eval` CLI on the offline
tasks under tests/fixtures/lmeval_tasks/ with `--log_samples --output_path`, exactly as the
evaluate skill does. Everything is deterministic (fixed seeds, greedy decoding).

Regenerate the committed copy (tests/fixtures/lmeval_real_output/):

    .venv/bin/python -m tests.lmeval_tiny --out tests/fixtures/lmeval_real_output
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASKS_DIR = REPO / "tests" / "fixtures" / "lmeval_tasks"
TASKS = ("conductor_tiny_mc", "conductor_tiny_gen")
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false",
               "OMP_NUM_THREADS": "1"}  # tiny tensors: one thread is faster, and steady on a busy machine


def _corpus() -> list[str]:
    lines = []
    for name in ("tiny_mc.jsonl", "tiny_gen.jsonl"):
        for raw in (TASKS_DIR / name).read_text(encoding="utf-8").splitlines():
            doc = json.loads(raw)
            lines.append(" ".join(str(v) for v in doc.values()))
    return lines + ["Question: Answer: Q: A: 0 1 2 3 4 5 6 7 8 9"]


def build_tokenizer(model_dir: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(model_dir)
    return fast


def _training_texts() -> list[str]:
    """Two thirds of each fixture task, in the tasks' own prompt format: the model learns those."""
    mc = [json.loads(x) for x in (TASKS_DIR / "tiny_mc.jsonl").read_text(encoding="utf-8").splitlines()]
    gen = [json.loads(x) for x in (TASKS_DIR / "tiny_gen.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [f"Question: {d['question']}\nAnswer: {d['choices'][d['label']]}" for i, d in enumerate(mc) if i % 3 != 2]
    texts += [f"Q: {d['question']}\nA: {d['answer']}\n\n" for i, d in enumerate(gen) if i % 3 != 2]
    return texts


def build_tiny_model(model_dir: Path, seed: int = 1234, train_steps: int = 100) -> Path:
    """A tiny LlamaForCausalLM (hidden 64, 2 layers, ~100k parameters) + tokenizer, saved for `hf`.

    It is trained for a few steps (about 2 s on a CPU) on two thirds of the fixture tasks, so that it
    answers those and misses the rest: scores strictly between 0 and 1, varied responses, a few
    that the strict regex cannot extract. `train_steps=0` leaves it random (it then repeats one token).
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(model_dir)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg).to(torch.float32)
    if train_steps:
        enc = tok(_training_texts(), return_tensors="pt", padding=True)
        labels = enc.input_ids.clone()
        labels[enc.attention_mask == 0] = -100
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        model.train()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny tensors: one thread is faster, and immune to a busy machine
        try:
            for _ in range(train_steps):
                model(**enc, labels=labels).loss.backward()
                opt.step()
                opt.zero_grad()
        finally:
            torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(model_dir)
    return model_dir


def lm_eval_command(model_dir: Path, out_dir: Path, tasks: tuple[str, ...] = TASKS,
                    extra: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "lm_eval", "run",
            "--model", "hf",
            "--model_args", f"pretrained={model_dir},dtype=float32",
            "--tasks", ",".join(tasks),
            "--include_path", str(TASKS_DIR),
            "--device", "cpu", "--batch_size", "4",
            "--output_path", str(out_dir), "--log_samples", "--seed", "1234", *extra]


def run_lm_eval(model_dir: Path, out_dir: Path, tasks: tuple[str, ...] = TASKS,
                extra: tuple[str, ...] = (), timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real lm-eval CLI from the repository root (the task YAMLs' data paths are relative to it)."""
    env = {**os.environ, **OFFLINE_ENV}
    return subprocess.run(lm_eval_command(model_dir, out_dir, tasks, extra), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def write_run_record(out_dir: Path, proc: subprocess.CompletedProcess, model_dir: Path,
                     tokenizer: str | None = None) -> None:
    """What the evaluate skill writes next to lm-eval's output (gates/eval_run/run_record.py)."""
    from gates.eval_run.run_record import RunRecord, write_run_record as write

    ok = proc.returncode == 0
    write(Path(out_dir), RunRecord(status="SUCCESS" if ok else "FAILED", exit_code=proc.returncode,
                                   error=None if ok else proc.stderr[-2000:], model_identity=str(model_dir),
                                   tokenizer=tokenizer, command=[str(a) for a in proc.args]))


# a fixed path, so the committed copy's directory name (lm-eval derives it from the model path) is
# stable; it is removed afterwards, so the collector later falls back to whitespace counting there
FIXTURE_MODEL_DIR = Path("/tmp/conductor-lmeval-fixture/tiny-llama")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="lm-eval output directory to (re)create")
    args = p.parse_args(argv)
    model_dir = FIXTURE_MODEL_DIR
    try:
        build_tiny_model(model_dir)
        if args.out.exists():
            shutil.rmtree(args.out)
        proc = run_lm_eval(model_dir, args.out.resolve())
        sys.stderr.write(proc.stderr[-4000:])
        write_run_record(args.out, proc, model_dir)
        return proc.returncode
    finally:
        shutil.rmtree(model_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
