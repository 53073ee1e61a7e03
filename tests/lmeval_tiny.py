"""A real lm-eval run on a tiny random model, offline: the eval_run gate's ground truth.

`build_tiny_model(dir)` writes a random 2-layer Llama (hidden 64) with a byte-level BPE tokenizer
(a few hundred tokens, trained here on the fixture tasks' text) that lm-eval's `hf` backend loads
from disk. `run_lm_eval(model_dir, out_dir)` runs the real `python -m lm_eval` CLI on the offline
tasks under tests/fixtures/lmeval_tasks/ with `--log_samples --output_path`, exactly as the
evaluate skill does. Everything is deterministic (fixed seeds, greedy decoding).

Regenerate the committed copies (tests/fixtures/lmeval_real_output/, and the corpus-level tasks'
tests/fixtures/lmeval_corpus_output/, whose model is trained on those tasks' text instead):

    .venv/bin/python -m tests.lmeval_tiny --out tests/fixtures/lmeval_real_output
    .venv/bin/python -m tests.lmeval_tiny --corpus --out tests/fixtures/lmeval_corpus_output
    .venv/bin/python -m tests.lmeval_tiny --corpus --fake-quant 4 --out tests/fixtures/lmeval_corpus_candidate

(the last one evaluates that model after a 4-bit per-row weight round trip: a real quantized candidate).
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
# tasks whose score is a corpus-level aggregate (F1, MCC, BLEU, perplexities, bits per byte); lm-eval
# bootstraps their stderr with 2,000 replicates (two of its 1,000-draw chunks; BLEU, chrF, TER: 100)
CORPUS_BOOTSTRAP_ITERS = 2000
CORPUS_TASKS = ("conductor_tiny_f1", "conductor_tiny_mcc", "conductor_tiny_bleu", "conductor_tiny_ppl",
                "conductor_tiny_bpb", "conductor_tiny_cloze")
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false",
               "OMP_NUM_THREADS": "1"}  # tiny tensors: one thread is faster, and steady on a busy machine

# data file -> one document as training text, in its task's own prompt format
_FORMATS = {
    "tiny_mc.jsonl": lambda d: f"Question: {d['question']}\nAnswer: {d['choices'][d['label']]}",
    "tiny_gen.jsonl": lambda d: f"Q: {d['question']}\nA: {d['answer']}\n\n",
    "tiny_yesno.jsonl": lambda d: f"Question: {d['question']}\nAnswer: {['no', 'yes'][d['label']]}",
    "tiny_copy.jsonl": lambda d: f"Copy: {d['source']}\nCopied: {d['target']}\n",
    "tiny_text.jsonl": lambda d: d["text"],
    "tiny_cloze.jsonl": lambda d: d["context"] + d["continuation"],
}
DATA_FILES = {TASKS: ("tiny_mc.jsonl", "tiny_gen.jsonl"),
              CORPUS_TASKS: ("tiny_yesno.jsonl", "tiny_copy.jsonl", "tiny_text.jsonl", "tiny_cloze.jsonl")}


def _docs(name: str) -> list[dict]:
    return [json.loads(x) for x in (TASKS_DIR / name).read_text(encoding="utf-8").splitlines()]


def _corpus(files: tuple[str, ...] = DATA_FILES[TASKS]) -> list[str]:
    lines = [" ".join(str(v) for v in doc.values()) for name in files for doc in _docs(name)]
    return lines + ["Question: Answer: Q: A: 0 1 2 3 4 5 6 7 8 9"]


def build_tokenizer(model_dir: Path, files: tuple[str, ...] = DATA_FILES[TASKS]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_corpus(files), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(model_dir)
    return fast


def _training_texts(files: tuple[str, ...] = DATA_FILES[TASKS]) -> list[str]:
    """Two thirds of each fixture task, in the tasks' own prompt format: the model learns those."""
    return [_FORMATS[name](d) for name in files for i, d in enumerate(_docs(name)) if i % 3 != 2]


def build_tiny_model(model_dir: Path, seed: int = 1234, train_steps: int = 100,
                     tasks: tuple[str, ...] = TASKS) -> Path:
    """A tiny LlamaForCausalLM (hidden 64, 2 layers, ~100k parameters) + tokenizer, saved for `hf`.

    It is trained for a few steps (about 2 s on a CPU) on two thirds of the fixture tasks, so that it
    answers those and misses the rest: scores strictly between 0 and 1, varied responses, a few
    that the strict regex cannot extract. `train_steps=0` leaves it random (it then repeats one token).
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    files = DATA_FILES[tasks]
    tok = build_tokenizer(model_dir, files)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg).to(torch.float32)
    if train_steps:
        enc = tok(_training_texts(files), return_tensors="pt", padding=True)
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


def fake_quantize(model_dir: Path, out_dir: Path, bits: int) -> Path:
    """A copy of the model whose linear weights went through a symmetric per-row `bits`-bit round trip
    (round(w / s) * s, s = absmax / (2^(bits-1) - 1)): a real, slightly degraded "quantized candidate"."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    qmax = 2 ** (bits - 1) - 1
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module.weight.dim() == 2:
                w = module.weight
                scale = w.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / qmax
                w.copy_(torch.round(w / scale).clamp(-qmax, qmax) * scale)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out_dir)
    return out_dir


def lm_eval_command(model_dir: Path, out_dir: Path, tasks: tuple[str, ...] = TASKS,
                    extra: tuple[str, ...] = (), bootstrap_iters: int | None = None) -> list[str]:
    cli = ["-m", "lm_eval"] if bootstrap_iters is None else ["-m", "tests.lmeval_cli", str(bootstrap_iters)]
    return [sys.executable, *cli, "run",
            "--model", "hf",
            "--model_args", f"pretrained={model_dir},dtype=float32",
            "--tasks", ",".join(tasks),
            "--include_path", str(TASKS_DIR),
            "--device", "cpu", "--batch_size", "4",
            "--output_path", str(out_dir), "--log_samples", "--seed", "1234", *extra]


def run_lm_eval(model_dir: Path, out_dir: Path, tasks: tuple[str, ...] = TASKS,
                extra: tuple[str, ...] = (), timeout: float = 600,
                bootstrap_iters: int | None = None) -> subprocess.CompletedProcess:
    """Run the real lm-eval CLI from the repository root (the task YAMLs' data paths are relative to it);
    `bootstrap_iters` replaces lm-eval's fixed 100,000 bootstrap replicates (tests/lmeval_cli.py)."""
    env = {**os.environ, **OFFLINE_ENV}
    return subprocess.run(lm_eval_command(model_dir, out_dir, tasks, extra, bootstrap_iters), cwd=REPO, env=env,
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
    p.add_argument("--corpus", action="store_true",
                   help=f"the corpus-level tasks ({', '.join(CORPUS_TASKS)}) instead of {', '.join(TASKS)}")
    p.add_argument("--fake-quant", type=int, metavar="BITS", default=None,
                   help="evaluate the model after a per-row BITS-bit weight round trip (a quantized candidate)")
    args = p.parse_args(argv)
    model_dir, tasks = FIXTURE_MODEL_DIR, CORPUS_TASKS if args.corpus else TASKS
    try:
        build_tiny_model(model_dir, tasks=tasks)
        if args.fake_quant:
            model_dir = fake_quantize(model_dir, model_dir.parent / f"tiny-llama-w{args.fake_quant}",
                                      args.fake_quant)
        if args.out.exists():
            shutil.rmtree(args.out)
        proc = run_lm_eval(model_dir, args.out.resolve(), tasks=tasks,
                           bootstrap_iters=CORPUS_BOOTSTRAP_ITERS if args.corpus else None)
        sys.stderr.write(proc.stderr[-4000:])
        write_run_record(args.out, proc, model_dir)
        return proc.returncode
    finally:
        shutil.rmtree(FIXTURE_MODEL_DIR.parent, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
