mkdir -p /root/stage && cp .gpu/c1/A.part00 /root/stage/ && ls -la /root/stage
nvidia-smi
python3 -c "import torch,sys; print(sys.version, sys.executable); print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))"
python3 -m pip list 2>/dev/null | grep -iE "^(torch|transformers|triton|pyarrow|fsspec|huggingface.hub|numpy|pandas|numba|typing.extensions|setuptools|prometheus.client|anyio|httpx|h11|uvloop|pillow|jinja2|sacrebleu|scikit.learn|protobuf|tokenizers|safetensors|accelerate|tiktoken|sentencepiece|aiohttp|requests|psutil|regex|rich|click|packaging|zipp|xxhash|einops|cloudpickle|msgpack|pyyaml|tqdm|filelock|pydantic|jsonschema) "
which gcc nvcc setsid unzip; nproc; free -g | head -2; df -h /root /tmp | tail -2
