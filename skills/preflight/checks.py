"""What preflight checks and records, one function each; every problem is a sentence, never a crash.

    facts, problems = inspect_checkpoint(Path("/ckpt"))
    tasks, problems = check_tasks(["conductor_facts_mc", "hellaswag"], offline=True)
    hw = hardware()          # cuda, cpus, memory (imports torch)
    v = versions()           # library versions, without importing the libraries
"""

from __future__ import annotations

import json
import os
import platform
import struct
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import yaml

SHIPPED_TASKS = Path(__file__).resolve().parents[1] / "evaluate" / "tasks"
MAX_HEADER = 100 * 1024 * 1024
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "tiktoken.model")
LIBRARIES = {"torch": "torch", "transformers": "transformers", "modelopt": "nvidia-modelopt",
             "lm_eval": "lm-eval", "safetensors": "safetensors", "accelerate": "accelerate",
             "datasets": "datasets", "pydantic": "pydantic"}


# ---------------------------------------------------------------- the checkpoint

def _safetensors_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError("shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_HEADER:
            raise ValueError(f"header length {n} is implausible")
        header = json.loads(fh.read(n))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header


def _weights(ckpt: Path) -> tuple[dict[str, Any], list[str]]:
    files = sorted(ckpt.glob("*.safetensors"))
    facts: dict[str, Any] = {"format": None, "files": [p.name for p in files], "tensors": 0, "dtypes": {},
                             "parameters": 0, "bytes": 0}
    problems: list[str] = []
    if not files:
        bins = sorted(ckpt.glob("pytorch_model*.bin"))
        if bins:
            facts.update(format="pytorch_bin", files=[p.name for p in bins], bytes=sum(p.stat().st_size for p in bins))
            return facts, []
        return facts, [f"{ckpt} holds no weights (*.safetensors or pytorch_model*.bin)"]
    facts["format"] = "safetensors"
    for p in files:
        try:
            header = _safetensors_header(p)
        except (OSError, ValueError) as exc:
            problems.append(f"{p.name}: unreadable safetensors header ({exc})")
            continue
        for name, t in header.items():
            if name == "__metadata__" or not isinstance(t, dict):
                continue
            facts["tensors"] += 1
            dtype = str(t.get("dtype"))
            facts["dtypes"][dtype] = facts["dtypes"].get(dtype, 0) + 1
            n = 1
            for d in t.get("shape") or []:
                n *= int(d)
            facts["parameters"] += n
            off = t.get("data_offsets") or [0, 0]
            facts["bytes"] += int(off[1]) - int(off[0])
    index = ckpt / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            missing = sorted(s for s in shards if not (ckpt / s).is_file())
            if missing:
                problems.append(f"shards named by {index.name} are missing: {missing[:5]}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{index.name} is unreadable: {exc}")
    return facts, problems


def inspect_checkpoint(ckpt: Path) -> tuple[dict[str, Any], list[str]]:
    """(facts, problems): config, weights (headers only) and tokenizer of a local HF checkpoint."""
    if not ckpt.exists():
        return {"path": str(ckpt)}, [f"{ckpt} does not exist"]
    if not ckpt.is_dir():
        return {"path": str(ckpt)}, [f"{ckpt} is not a directory (a Hugging Face checkpoint is a folder)"]
    facts: dict[str, Any] = {"path": str(ckpt)}
    problems: list[str] = []
    try:
        cfg = json.loads((ckpt / "config.json").read_text(encoding="utf-8"))
        if not isinstance(cfg, dict) or not (cfg.get("model_type") or cfg.get("architectures")):
            problems.append("config.json names no model_type or architectures")
        else:
            facts["model_type"] = cfg.get("model_type")
            facts["architectures"] = cfg.get("architectures")
            facts["torch_dtype"] = cfg.get("torch_dtype") or cfg.get("dtype")
            facts["already_quantized"] = "quantization_config" in cfg or (ckpt / "hf_quant_config.json").is_file()
    except FileNotFoundError:
        problems.append(f"{ckpt} has no config.json: not a Hugging Face checkpoint")
    except (OSError, ValueError) as exc:
        problems.append(f"config.json is unreadable: {exc}")
    facts["weights"], weight_problems = _weights(ckpt)
    problems += weight_problems
    tok = [f for f in TOKENIZER_FILES if (ckpt / f).is_file()]
    facts["tokenizer_files"] = tok + (["tokenizer_config.json"] if (ckpt / "tokenizer_config.json").is_file() else [])
    if not tok:
        problems.append(f"{ckpt} has no tokenizer ({', '.join(TOKENIZER_FILES)})")
    for name in ["config.json", "tokenizer_config.json", *tok]:
        p = ckpt / name
        if p.is_file() and not os.access(p, os.R_OK):
            problems.append(f"{name} is not readable")
    return facts, problems


# ---------------------------------------------------------------- the tasks

class _TaskYamlLoader(yaml.SafeLoader):
    """lm-eval task YAML: `!function module.fn` tags are read as None (only names and files matter here)."""


_TaskYamlLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def shipped_tasks(root: Path = SHIPPED_TASKS) -> dict[str, dict[str, Any]]:
    """task name -> {yaml, data_files, missing_files} for every task YAML shipped under `root`."""
    out: dict[str, dict[str, Any]] = {}
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*.yaml")):
        try:
            cfg = yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskYamlLoader)
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(cfg, dict) or not isinstance(cfg.get("task"), str):
            continue
        kwargs = cfg.get("dataset_kwargs")
        files = (kwargs.get("data_files") or {}) if isinstance(kwargs, dict) else {}
        names = [f for v in (files.values() if isinstance(files, dict) else [files])
                 for f in (v if isinstance(v, list) else [v]) if isinstance(f, str)]
        out[cfg["task"]] = {"yaml": str(path), "data_files": names,
                            "missing_files": [f for f in names if not (path.parent / f).is_file()]}
    return out


def _hf_cache_has(dataset: str) -> bool:
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")).expanduser()
    hub = Path(os.environ.get("HF_HUB_CACHE", home / "hub")).expanduser()
    ds = Path(os.environ.get("HF_DATASETS_CACHE", home / "datasets")).expanduser()
    return (hub / ("datasets--" + dataset.replace("/", "--"))).is_dir() or (ds / dataset.replace("/", "___")).is_dir()


def lmeval_index(include_path: Optional[Path] = None) -> Callable[[str], Optional[dict[str, Any]]]:
    """A lookup task name -> {kind, yaml, dataset_path} over lm-eval's task index (slow: ~20 s)."""
    from lm_eval.tasks import TaskManager  # lazily: only for task names the project does not ship

    tm = TaskManager(include_path=str(include_path) if include_path else None)

    def look(name: str) -> Optional[dict[str, Any]]:
        entry = tm.task_index.get(name)
        if entry is None:
            return None
        if isinstance(entry, dict):
            kind, cfg, yaml_path = str(entry.get("type")), {}, entry.get("yaml_path")
        else:
            kind, cfg, yaml_path = str(getattr(entry, "kind", "")), dict(getattr(entry, "cfg", None) or {}), \
                getattr(entry, "yaml_path", None)
        return {"kind": kind, "yaml": str(yaml_path) if yaml_path else None, "dataset_path": cfg.get("dataset_path")}

    return look


def check_tasks(names: Sequence[str], *, offline: bool, shipped: Optional[dict[str, dict[str, Any]]] = None,
                index: Optional[Callable[[], Callable[[str], Optional[dict[str, Any]]]]] = None
                ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(task -> facts, problems). Shipped tasks must have their data files; any other name must be
    known to lm-eval, and, when offline, its dataset must be in the local Hugging Face cache."""
    shipped = shipped_tasks() if shipped is None else shipped
    out: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    look = None
    for name in names:
        if name in shipped:
            s = shipped[name]
            out[name] = {"source": "shipped", "yaml": s["yaml"], "data": "shipped"}
            if s["missing_files"]:
                problems.append(f"task {name!r}: its shipped data files are missing: {s['missing_files']}")
            continue
        if look is None:
            look = (index or (lambda: lmeval_index(SHIPPED_TASKS)))()
        entry = look(name)
        if entry is None:
            problems.append(f"task {name!r} is neither shipped with the project (skills/evaluate/tasks) "
                            "nor known to lm-eval")
            out[name] = {"source": "unknown"}
            continue
        ds = entry.get("dataset_path")
        if not ds or "group" in entry.get("kind", "").lower():
            data = "not checked (a group, or no dataset named)"
        elif ds in ("json", "csv", "parquet", "text", "arrow"):
            data = "local files"
        else:
            data = "cached" if _hf_cache_has(ds) else "not in the local Hugging Face cache"
        out[name] = {"source": "lm-eval", "yaml": entry.get("yaml"), "dataset": ds, "data": data}
        if offline and data.startswith("not in"):
            problems.append(f"task {name!r}: its dataset {ds!r} is not in the local Hugging Face cache and "
                            "this machine is offline (HF_DATASETS_OFFLINE/HF_HUB_OFFLINE)")
    return out, problems


# ---------------------------------------------------------------- the machine

def _meminfo() -> dict[str, Optional[int]]:
    out: dict[str, Optional[int]] = {"total_bytes": None, "available_bytes": None}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                out["total_bytes" if key == "MemTotal" else "available_bytes"] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


def hardware() -> dict[str, Any]:
    """CUDA (as torch sees it), CPUs, memory, platform."""
    try:
        cpus_usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus_usable = os.cpu_count()
    hw: dict[str, Any] = {"cpu_count": os.cpu_count(), "cpus_usable": cpus_usable, "memory": _meminfo(),
                          "platform": platform.platform(), "machine": platform.machine(),
                          "cuda_available": False, "cuda_devices": [], "cuda_error": None}
    try:
        import torch

        hw["cuda_available"] = bool(torch.cuda.is_available())
        if hw["cuda_available"]:
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                hw["cuda_devices"].append({"name": p.name, "memory_bytes": int(p.total_memory),
                                           "capability": f"{p.major}.{p.minor}"})
            hw["cuda_version"] = torch.version.cuda
    except Exception as exc:  # torch missing or broken: recorded, not fatal
        hw["cuda_error"] = f"{type(exc).__name__}: {exc}"
    return hw


def versions() -> dict[str, Optional[str]]:
    out: dict[str, Optional[str]] = {"python": platform.python_version()}
    for key, dist in LIBRARIES.items():
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    return out


def recipe_needs_cuda(recipe: str) -> Optional[bool]:
    """needs_cuda of a shipped recipe name or a recipe file; None when it cannot be read."""
    path = Path(recipe)
    if not path.suffix:
        path = Path(__file__).resolve().parents[2] / "gates" / "recipes" / f"{recipe}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return bool(data.get("needs_cuda")) if isinstance(data, dict) else None
