"""A stand-in for vLLM in fast tests (see vllm/entrypoints/openai/api_server.py)."""
