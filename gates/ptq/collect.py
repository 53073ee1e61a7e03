"""Collect ptq facts from two checkpoint directories: `--artifacts SOURCE_DIR EXPORT_DIR --recipe R`.

Reads safetensors headers, config.json, hf_quant_config.json, the tokenizer files (fingerprinted
by gates/ptq/tokenizer.py) and, of the tensor data, only the export's scale tensors and three small
windows of each quantized weight (gates/ptq/tensordata.py). A missing or corrupt *export* is a
finding the decision judges; a missing or corrupt *source* (a source without a readable tokenizer
included) is an input error (exit 2): without it there is nothing to compare against.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Optional

from gates.contract import InputError
from gates.ptq.configs import config_drift, declaration, declared_resolver
from gates.ptq.headers import CheckpointScan, TensorInfo, scan_checkpoint
from gates.ptq.models import (
    NAMES_CAP,
    CheckpointSide,
    Declaration,
    DeclarationFile,
    FileProblem,
    LayerGroup,
    PtqFacts,
    ServingFiles,
    TokenizerPair,
    TokenizerSide,
    WeightFile,
)
from gates.ptq.tensordata import read_tensor_data
from gates.ptq.tokenizer import SENTENCEPIECE, fingerprint, is_vocab_file
from gates.recipes import Recipe, load_recipe, recipe_classifier

SCALES = ("weight_scale", "weight_scale_2", "input_scale", "pre_quant_scale")
# files a server reads besides the weights; checked for presence against the source and parsed if JSON
SERVER_FILES = ("config.json", "tokenizer.json", *SENTENCEPIECE, "tokenizer_config.json",
                "special_tokens_map.json", "added_tokens.json", "chat_template.jinja", "chat_template.json",
                "generation_config.json", "vocab.json", "merges.txt", "vocab.txt", "tiktoken.model",
                "preprocessor_config.json", "hf_quant_config.json")
TOKENIZER_ROLE = "a tokenizer (tokenizer.json or tokenizer.model, or the vocabulary files the source uses)"
JSON_FILES = {f for f in SERVER_FILES if f.endswith(".json")}
INDEX_RE = re.compile(r"(?<=\.)\d+(?=\.|$)")


def is_matrix(name: str, info: TensorInfo) -> bool:
    return name.endswith(".weight") and len(info.shape) >= 2


def _side(scan: CheckpointScan) -> CheckpointSide:
    mats = {n: t for n, t in scan.tensors.items() if is_matrix(n, t)}
    by_bytes: Counter[str] = Counter()
    for t in mats.values():
        by_bytes[t.dtype] += t.nbytes
    return CheckpointSide(
        path=str(scan.path), tensor_bytes=scan.tensor_bytes, file_bytes=scan.file_bytes, tensors=len(scan.tensors),
        weight_files=[WeightFile(name=f.name, file_bytes=f.file_bytes, tensor_bytes=f.tensor_bytes,
                                 tensors=f.tensors, error=f.error) for f in scan.files],
        matrix_dtypes=dict(sorted(Counter(t.dtype for t in mats.values()).items())),
        dominant_matrix_dtype=by_bytes.most_common(1)[0][0] if by_bytes else None)


def _shape(src: Optional[TensorInfo], exp: TensorInfo) -> str:
    if src is None:
        return "new"
    if src.shape == exp.shape:
        return "same"
    halved = [i for i, (a, b) in enumerate(zip(src.shape, exp.shape, strict=False)) if a != b]
    if (exp.dtype in ("U8", "I8") and len(src.shape) == len(exp.shape) and len(halved) == 1
            and exp.shape[halved[0]] * 2 == src.shape[halved[0]]):
        return "packed"
    return "changed"


def _layer_key(module: str, src: Optional[TensorInfo], exp: TensorInfo, tensors: dict[str, TensorInfo],
               classify: Callable[[str], tuple[str, Optional[str]]], declared: Callable[[str], Optional[str]]) -> tuple:
    status, pattern = classify(module)
    scales = tuple(s for s in SCALES if f"{module}.{s}" in tensors)
    return (INDEX_RE.sub("*", module), src.dtype if src else None, exp.dtype, _shape(src, exp), scales,
            status, pattern, declared(module))


def _groups(src: CheckpointScan, exp: CheckpointScan, recipe: Recipe, decl: Optional[Declaration],
            layer_algos: Optional[dict[str, str]]) -> list[LayerGroup]:
    members: dict[tuple, list[tuple[str, int]]] = defaultdict(list)
    declared, classify = declared_resolver(decl, layer_algos), recipe_classifier(recipe)
    for name, t in sorted(exp.tensors.items()):
        if not is_matrix(name, t):
            continue
        s = src.tensors.get(name)
        key = _layer_key(name[: -len(".weight")], s, t, exp.tensors, classify, declared)
        members[key].append((name[: -len(".weight")], (s or t).numel))
    return [LayerGroup(pattern=k[0], count=len(m), names=[n for n, _ in m[:NAMES_CAP]], params=sum(p for _, p in m),
                       source_dtype=k[1], stored_dtype=k[2], shape=k[3], scales=list(k[4]), recipe=k[5],
                       recipe_pattern=k[6], declared_algo=k[7])
            for k, m in sorted(members.items(), key=lambda kv: (kv[0][0], kv[1][0][0]))]


def _read_jsons(root: Path) -> tuple[dict[str, Any], list[FileProblem]]:
    """Every server JSON file present, parsed; unreadable ones become problems."""
    out, problems = {}, []
    for name in sorted(JSON_FILES):
        path = root / name
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            out[name] = data
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(FileProblem(file=name, problem=f"unreadable: {exc}"))
    return out, problems


def _declarations(jsons: dict[str, Any]) -> tuple[list[Declaration], Optional[dict[str, str]], list[FileProblem]]:
    """hf_quant_config.json first (the primary), then config.json's quantization_config."""
    sections: list[tuple[DeclarationFile, Any]] = []
    if "hf_quant_config.json" in jsons:
        sections.append(("hf_quant_config.json", jsons["hf_quant_config.json"].get("quantization")))
    qc = jsons.get("config.json", {}).get("quantization_config")
    if qc is not None:
        sections.append(("config.json", qc))
    decls, layer_maps, problems = [], [], []
    for file, section in sections:
        try:
            if not isinstance(section, dict):
                raise ValueError("the quantization section is not a JSON object")
            d, layers = declaration(file, section)
            decls.append(d)
            layer_maps.append(layers)
        except ValueError as exc:
            problems.append(FileProblem(file=file, problem=f"malformed quantization declaration: {exc}"))
    return decls, (layer_maps[0] if layer_maps else None), problems


def _added_matrices(src: CheckpointScan, exp: CheckpointScan) -> list[str]:
    """Weight matrices the source does not have; an lm_head untied from the source's tied embeddings is not one."""
    embed = {t.shape for n, t in src.tensors.items() if n.endswith("embed_tokens.weight")}
    return sorted(n for n, t in exp.tensors.items() if is_matrix(n, t) and n not in src.tensors
                  and not (n.endswith("lm_head.weight") and t.shape in embed))


def _serving(src: Path, exp: Path, exp_scan: CheckpointScan, src_scan: CheckpointScan, tok: TokenizerSide,
             problems: list[FileProblem]) -> ServingFiles:
    present = sorted(f for f in SERVER_FILES if (exp / f).is_file()) + [f.name for f in exp_scan.files]
    missing = [] if (exp / "config.json").is_file() else ["config.json"]
    if not any(is_vocab_file(f) for f in tok.files):
        missing.append(TOKENIZER_ROLE)
    if not (exp / "tokenizer_config.json").is_file():
        missing.append("tokenizer_config.json")
    if not exp_scan.files and not any(p.startswith("weight file") for _, p in exp_scan.problems):
        missing.append("*.safetensors weights")
    lost = sorted(set(src_scan.tensors) - set(exp_scan.tensors)) if exp_scan.files else []
    added = _added_matrices(src_scan, exp_scan)
    return ServingFiles(
        export_exists=True, present=present, missing=missing,
        missing_from_source=sorted(f for f in SERVER_FILES if f != "hf_quant_config.json"
                                   and (src / f).is_file() and not (exp / f).is_file() and f not in missing),
        unreadable=problems + [FileProblem(file=f, problem=p) for f, p in exp_scan.problems],
        tensors_missing=len(lost), tensors_missing_names=lost[:NAMES_CAP],
        matrices_added=len(added), matrices_added_names=added[:NAMES_CAP])


def _source_tokenizer(src: Path, config: dict[str, Any]) -> TokenizerSide:
    side, problems = fingerprint(src, config)
    if problems:
        file, problem = problems[0]
        raise InputError("--artifacts", f"source checkpoint {str(src)!r}: {file}: {problem}")
    if not side.vocab_files:
        raise InputError("--artifacts", f"source checkpoint {str(src)!r} has no tokenizer (tokenizer.json, a "
                                        "sentencepiece model, vocab.json + merges.txt or vocab.txt): the export's "
                                        "cannot be checked against it; put the served tokenizer there")
    return side


def _export_problems(jsons_problems: list[FileProblem], tok_problems: list[tuple[str, str]]) -> list[FileProblem]:
    """JSON parse errors once (from _read_jsons), then the tokenizer files' own problems."""
    seen = {p.file for p in jsons_problems}
    return jsons_problems + [FileProblem(file=f, problem=p) for f, p in tok_problems if f not in seen]


def _source(src: Path) -> tuple[CheckpointScan, dict[str, Any]]:
    if not src.is_dir():
        raise InputError("--artifacts", f"source checkpoint directory {str(src)!r} does not exist")
    scan = scan_checkpoint(src)
    if scan.problems:
        file, problem = scan.problems[0]
        raise InputError("--artifacts", f"source checkpoint {str(src)!r}: {file}: {problem}")
    if not any(is_matrix(n, t) for n, t in scan.tensors.items()):
        raise InputError("--artifacts", f"source checkpoint {str(src)!r} holds no safetensors weight matrices")
    jsons, problems = _read_jsons(src)
    if "config.json" not in jsons:
        why = next((p.problem for p in problems if p.file == "config.json"), "missing")
        raise InputError("--artifacts", f"source checkpoint {str(src)!r}: config.json {why}")
    return scan, jsons["config.json"]


def _no_export(recipe: Recipe, src_scan: CheckpointScan, src_tok: TokenizerSide, exp: Path,
               tolerance: float) -> PtqFacts:
    serving = ServingFiles(export_exists=False, present=[], missing=[f"export directory {str(exp)!r}"],
                           unreadable=[], tensors_missing=0, tensors_missing_names=[])
    return PtqFacts(recipe=recipe, source=_side(src_scan), export=None, serving=serving, declarations=[],
                    kv_scale_tensors=0, layers=[], config_drift=[], size_tolerance=tolerance,
                    tokenizers=TokenizerPair(source=src_tok, export=None))


def collect_dirs(src: Path, exp: Path, recipe: Recipe, tolerance: float = 0.02) -> PtqFacts:
    """The facts of one (source, export) pair under one recipe."""
    src_scan, src_cfg = _source(src)
    src_tok = _source_tokenizer(src, src_cfg)
    if not exp.is_dir():
        return _no_export(recipe, src_scan, src_tok, exp, tolerance)
    exp_scan = scan_checkpoint(exp)
    jsons, problems = _read_jsons(exp)
    exp_tok, tok_problems = fingerprint(exp, jsons.get("config.json"))
    decls, layer_algos, decl_problems = _declarations(jsons)
    drift, allowed = config_drift(src_cfg, jsons["config.json"]) if "config.json" in jsons else ([], [])
    return PtqFacts(
        recipe=recipe, source=_side(src_scan), export=_side(exp_scan),
        tokenizers=TokenizerPair(source=src_tok, export=exp_tok), tensor_data=read_tensor_data(exp, exp_scan),
        serving=_serving(src, exp, exp_scan, src_scan, exp_tok, _export_problems(problems, tok_problems)
                         + decl_problems),
        declarations=decls, layers=_groups(src_scan, exp_scan, recipe, decls[0] if decls else None, layer_algos),
        kv_scale_tensors=sum(1 for n in exp_scan.tensors if n.endswith((".k_scale", ".v_scale"))),
        config_drift=drift, config_allowed=allowed, size_tolerance=tolerance)


def collect(args: argparse.Namespace) -> PtqFacts:
    if len(args.artifacts) != 2:
        raise InputError("--artifacts", "expected two checkpoint directories: SOURCE_DIR EXPORT_DIR")
    if not args.recipe:
        raise InputError("--recipe", "--artifacts needs --recipe NAME_OR_PATH (the recipe the export should follow)")
    recipe = load_recipe(args.recipe)
    tol = 0.02 if args.size_tolerance is None else args.size_tolerance
    return collect_dirs(Path(args.artifacts[0]), Path(args.artifacts[1]), recipe, tol)
