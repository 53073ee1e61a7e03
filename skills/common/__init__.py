"""What every skill shares: the runner framework (`runner`), the Skill base that launches it
(`base`), where earlier stages left their artifacts (`sealed`), and where vLLM lives (`vllm_env`).
Nothing here imports torch, transformers, modelopt, lm-eval or vLLM."""
