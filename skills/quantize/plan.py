"""What a quantize run will do, decided without torch or modelopt: pure functions over names and shapes.

- `RECIPE_BACKENDS`: which modelopt config each recipe's `modelopt_config` names, and why a CUDA-only
  recipe cannot run here (the recipe catalogue in gates/recipes/ stays the single source of truth
  for names, formats and `needs_cuda`).
- `effective_recipe`: the shipped/user recipe plus the call's extra exclusions and KV-cache format:
  the recipe the run follows and the ptq gate judges.
- `build_quant_cfg`: a modelopt config whose per-module enable/disable is decided by the *gate's*
  classifier (`gates.recipes.recipe_classifier`), so what is quantized is what the gate expects.
- `unpackable_layers` / `classify_error`: block-size problems found before calibrating, and
  modelopt's own errors turned into a failure class with the layers named.

    >>> r = effective_recipe(load_recipe("int4_awq"), exclude=["*down_proj*"], kv_cache=None)
    >>> r.exclude[-1]
    '*down_proj*'
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from gates.recipes import Recipe, load_recipe, matcher, recipe_classifier, with_exclusions  # noqa: F401  (load_recipe re-exported)

EMBEDDED_PREFIX = "embedded:"


@dataclass(frozen=True)
class Backend:
    """How a recipe's `modelopt_config` is produced here."""

    cfg_name: str  # attribute of modelopt.torch.quantization
    calib_passes: int  # forward_loop calls the algorithm makes (progress only; 1 pass = 1 call)
    cuda_reason: str = ""  # why the format needs a CUDA GPU (only for needs_cuda recipes)
    block_format: Optional[str] = None  # "int4" (block size adjustable) or "nvfp4" (fixed 16)


RECIPE_BACKENDS: dict[str, Backend] = {
    "FP8_DEFAULT_CFG": Backend("FP8_DEFAULT_CFG", 1),
    "INT8_SMOOTHQUANT_CFG": Backend("INT8_SMOOTHQUANT_CFG", 1),
    "INT4_AWQ_CFG": Backend("INT4_AWQ_CFG", 2, block_format="int4"),
    "NVFP4_DEFAULT_CFG": Backend(
        "NVFP4_DEFAULT_CFG", 1, block_format="nvfp4",
        cuda_reason="NVFP4 kernels exist only on CUDA GPUs with FP4 tensor cores (Blackwell class); modelopt could "
                    "simulate and export it on a CPU, but no server or evaluator here could run the checkpoint"),
    "W4A8_AWQ_BETA_CFG": Backend(
        "W4A8_AWQ_BETA_CFG", 2, block_format="int4",
        cuda_reason="W4A8 AWQ checkpoints are served only by TensorRT-LLM on a CUDA GPU; nothing here can run one"),
}
KV_FORMATS = {"fp8": "FP8"}  # kv_cache input -> kv_cache_quant_algo the export declares


class PlanError(ValueError):
    """The call cannot be planned: the message is one sentence for the agent."""


def backend_for(recipe: Recipe) -> Backend:
    if recipe.modelopt_config not in RECIPE_BACKENDS:
        known = ", ".join(sorted(RECIPE_BACKENDS))
        raise PlanError(f"recipe {recipe.name!r} names modelopt_config {recipe.modelopt_config!r}; this skill "
                        f"produces {known}")
    b = RECIPE_BACKENDS[recipe.modelopt_config]
    if b.block_format == "nvfp4" and recipe.block_size not in (None, 16):
        raise PlanError(f"recipe {recipe.name!r}: NVFP4 blocks are 16 elements by definition, not {recipe.block_size}")
    if recipe.kv_cache_quant_algo not in (None, *KV_FORMATS.values()):
        raise PlanError(f"recipe {recipe.name!r} declares kv_cache_quant_algo {recipe.kv_cache_quant_algo!r}; "
                        f"this skill produces {', '.join(KV_FORMATS.values())} or none")
    return b


def cuda_reason(recipe: Recipe) -> str:
    """Why `recipe` cannot run on a machine without CUDA (the sentence of HARDWARE_UNAVAILABLE)."""
    b = RECIPE_BACKENDS.get(recipe.modelopt_config or "")
    why = b.cuda_reason if b and b.cuda_reason else "its recipe sets needs_cuda: true"
    return f"{recipe.name} needs a CUDA GPU ({why}); this machine has none (torch.cuda.is_available() is False)"


def effective_recipe(base: Recipe, exclude: Sequence[str] = (), kv_cache: Optional[str] = None) -> Recipe:
    """`base` with the call's exclusions appended and its KV-cache format: what the run does and the gate checks."""
    return with_exclusions(base, exclude, KV_FORMATS[kv_cache] if kv_cache else None)


def is_modified(base: Recipe, eff: Recipe) -> bool:
    return eff.exclude != base.exclude or eff.kv_cache_quant_algo != base.kv_cache_quant_algo


# ------------------------------------------------------------------ modules and the modelopt config


@dataclass(frozen=True)
class ModuleInfo:
    """A module that holds a weight matrix (>= 2-D `weight`)."""

    name: str
    kind: str  # class name, e.g. Linear, Embedding
    in_features: Optional[int] = None  # Linear only
    out_features: Optional[int] = None


@dataclass
class Coverage:
    covered: list[ModuleInfo] = field(default_factory=list)  # the recipe quantizes these
    left: list[tuple[ModuleInfo, str]] = field(default_factory=list)  # (module, why: "excluded by <p>" / "not covered")

    @property
    def covered_linear(self) -> list[ModuleInfo]:
        return [m for m in self.covered if m.in_features is not None]


def coverage(recipe: Recipe, modules: Iterable[ModuleInfo]) -> Coverage:
    classify = recipe_classifier(recipe)
    out = Coverage()
    for m in modules:
        status, pattern = classify(m.name)
        if status == "covered":
            out.covered.append(m)
        else:
            out.left.append((m, f"excluded by {pattern}" if status == "excluded" else "not covered by the recipe"))
    return out


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _is_default_name_rule(entry: dict[str, Any]) -> bool:
    """modelopt's own name-based exclusions ({"quantizer_name": "*lm_head*", "enable": False}); the
    recipe's `exclude` restates them, and the per-module entries below replace them."""
    return (entry.get("enable") is False and "cfg" not in entry and "parent_class" not in entry
            and entry.get("quantizer_name") not in ("*", "*input_quantizer", "*weight_quantizer"))


def _set_block_size(cfg: Any, block: int) -> None:
    for c in cfg if isinstance(cfg, list) else [cfg]:
        if isinstance(c, dict) and isinstance(c.get("block_sizes"), dict) and -1 in c["block_sizes"]:
            c["block_sizes"][-1] = block
            return


def build_quant_cfg(recipe: Recipe, base_cfg: dict[str, Any], cov: Coverage,
                    kv_entries: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The modelopt config for `recipe` on a model whose weight modules are classified in `cov`.

    Keeps the base config's format entries and class rules (nn.Embedding, BatchNorm...), drops its
    name-based exclusions, then disables every weight module the recipe does not cover, by exact name.
    """
    cfg = copy.deepcopy(base_cfg)
    entries = [e for e in cfg["quant_cfg"] if not _is_default_name_rule(e)]
    b = RECIPE_BACKENDS.get(recipe.modelopt_config or "")
    if recipe.block_size and b and b.block_format == "int4":
        for e in entries:
            if e.get("quantizer_name") == "*weight_quantizer" and "cfg" in e:
                _set_block_size(e["cfg"], recipe.block_size)
    entries += [{"quantizer_name": f"{_glob_escape(m.name)}.*", "enable": False} for m, _ in cov.left]
    if recipe.kv_cache_quant_algo:
        entries += [copy.deepcopy(e) for e in kv_entries]
    cfg["quant_cfg"] = entries
    return cfg


# ------------------------------------------------------------------ block-size packing


@dataclass(frozen=True)
class Unpackable:
    layer: str
    in_features: Optional[int]
    out_features: Optional[int]
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "in_features": self.in_features, "out_features": self.out_features,
                "reason": self.reason}


def unpackable_layers(recipe: Recipe, cov: Coverage) -> list[Unpackable]:
    """Covered linears the export could not pack under the recipe's block format (found before calibrating)."""
    out: list[Unpackable] = []
    bs = recipe.block_size
    b = RECIPE_BACKENDS.get(recipe.modelopt_config or "")
    int4_rows = bool(b and b.block_format == "int4")  # int4 packs two rows (output dim) per byte
    for m in cov.covered_linear:
        assert m.in_features is not None and m.out_features is not None
        if bs and m.in_features % bs:
            out.append(Unpackable(m.name, m.in_features, m.out_features,
                                  f"in_features {m.in_features} is not a multiple of the block size {bs} "
                                  f"({m.in_features} = {m.in_features // bs}x{bs} + {m.in_features % bs}); "
                                  "the export packs whole blocks only"))
        elif int4_rows and m.out_features % 2:
            out.append(Unpackable(m.name, m.in_features, m.out_features,
                                  f"out_features {m.out_features} is odd; int4 export packs two rows per byte"))
        elif recipe.packed_int4 and not int4_rows and m.in_features % 2:
            out.append(Unpackable(m.name, m.in_features, m.out_features,
                                  f"in_features {m.in_features} is odd; the export packs two values per byte"))
    return out


_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)")


def compact_patterns(names: Sequence[str], universe: Sequence[str]) -> list[str]:
    """Fewest exclusion patterns that match exactly `names` within `universe` (all weight modules).

    Layer indices become `*` (model.layers.*.mlp.down_proj) when the generalised pattern matches
    nothing outside `names`; otherwise the exact names are kept.
    """
    wanted = set(names)
    out: set[str] = set()
    for name in names:
        pat = _INDEX.sub("*", name)
        if pat != name:
            m = matcher((pat,))
            if all(u in wanted for u in universe if m(u)):
                out.add(pat)
                continue
        out.add(name)
    return sorted(out)


def repair_advice(recipe: Recipe, bad: Sequence[Unpackable], patterns: Sequence[str]) -> str:
    shapes = sorted({u.in_features for u in bad if u.in_features is not None})
    blocks = [d for d in (64, 32, 16)
              if recipe.block_size and d < recipe.block_size and all(s % d == 0 for s in shapes)]
    alt = (f"or a recipe file copied from {recipe.name} with block_size: {blocks[0]} (every offending in_features "
           f"is a multiple of {blocks[0]}), " if blocks else "")
    return (f"repair: exclude them (exclude={list(patterns)}; they stay bf16 and the report must say so), "
            f"{alt}or choose a recipe without int4 blocks (fp8, int8_sq)")


# ------------------------------------------------------------------ errors -> failure classes

_PACK_IN = re.compile(r"Cannot pack weight with input dimension (\d+) and block size (\d+)")
_PACK_OUT = re.compile(r"Out dimension (\d+) is not an even number")
_BLOCK_GENERIC = re.compile(r"not divisible for block size|partial blocks", re.I)
_NOTHING = re.compile(r"no weight quantizer is enabled|nothing would be quantized", re.I)
_ARCH = re.compile(r"does not recognize this architecture|Unrecognized configuration class|"
                   r"Unrecognized model|model type .{0,40} (?:is )?not (?:recognized|supported)", re.I)
_OOM = re.compile(r"out of memory|can't allocate memory|cannot allocate memory|std::bad_alloc", re.I)


@dataclass
class Failure:
    failure_class: str
    error: str
    data: dict[str, Any] = field(default_factory=dict)


def layers_for_error(message: str, cov: Coverage, recipe: Recipe) -> list[Unpackable]:
    """The covered linears a modelopt packing error is about (modelopt names dimensions, not layers)."""
    m = _PACK_IN.search(message)
    if m:
        dim, block = int(m.group(1)), int(m.group(2))
        return [Unpackable(x.name, x.in_features, x.out_features,
                           f"in_features {dim} is not a multiple of the block size {block} (modelopt: {m.group(0)})")
                for x in cov.covered_linear if x.in_features == dim]
    m = _PACK_OUT.search(message)
    if m:
        dim = int(m.group(1))
        return [Unpackable(x.name, x.in_features, x.out_features, f"out_features {dim} is odd (modelopt: {m.group(0)})")
                for x in cov.covered_linear if x.out_features == dim]
    if _BLOCK_GENERIC.search(message):
        return unpackable_layers(recipe, cov)
    return []


def unpackable_failure(recipe: Recipe, cov: Coverage, bad: Sequence[Unpackable], universe: Sequence[str],
                       source: str = "pre-check") -> Failure:
    """QUANT_COVERAGE_FAILURE naming the layers (MODEL_UNSUPPORTED when no covered layer could be packed)."""
    patterns = compact_patterns([u.layer for u in bad], universe)
    shown = ", ".join(u.layer for u in bad[:4]) + (f" (+{len(bad) - 4} more)" if len(bad) > 4 else "")
    first = bad[0].reason if bad else ""
    data = {"unpackable": {"count": len(bad), "of_covered": len(cov.covered_linear), "found_by": source,
                           "examples": [u.as_dict() for u in bad[:8]]},
            "suggested_exclude": patterns}
    if bad and len(bad) >= len(cov.covered_linear):
        return Failure("MODEL_UNSUPPORTED",
                       f"{recipe.name} cannot pack any layer of this model: all {len(bad)} covered linears fail "
                       f"(e.g. {shown}: {first}); choose a recipe without int4 blocks (fp8, int8_sq)"
                       + (" or a smaller block_size" if recipe.block_size else ""), data)
    return Failure("QUANT_COVERAGE_FAILURE",
                   f"{recipe.name}: {len(bad)} of {len(cov.covered_linear)} covered linears cannot be packed: "
                   f"{shown}: {first}; {repair_advice(recipe, bad, patterns)}", data)


def classify_error(exc: BaseException, recipe: Optional[Recipe], cov: Optional[Coverage], universe: Sequence[str],
                   phase: str) -> Failure:
    """A modelopt/torch exception raised during `phase` as a failure class, with a sentence that explains it."""
    msg = f"{type(exc).__name__}: {exc}".strip()
    head = msg.splitlines()[0][:500]
    if type(exc).__name__ in ("OutOfMemoryError", "MemoryError") or _OOM.search(msg):
        return Failure("SKILL_FAILED", f"out of memory while {phase}: {head}; lower calib_seq_len or calib_size, or "
                                       "run on a machine with more memory", {"phase": phase, "oom": True})
    if phase.startswith("loading") and _ARCH.search(msg):
        return Failure("MODEL_UNSUPPORTED", f"transformers cannot load this architecture as a causal LM here: "
                                            f"{head}", {"phase": phase})
    if _NOTHING.search(msg):
        name = recipe.name if recipe else "the recipe"
        return Failure("MODEL_UNSUPPORTED", f"{name} matches no weight module of this model "
                                            f"(modelopt: {head})", {"phase": phase})
    if cov is not None and recipe is not None and phase == "exporting":
        bad = layers_for_error(msg, cov, recipe)
        if bad:
            return unpackable_failure(recipe, cov, bad, universe, source="export error")
        if _PACK_IN.search(msg) or _BLOCK_GENERIC.search(msg):
            return Failure("QUANT_COVERAGE_FAILURE", f"the export could not pack a layer ({head}); no covered "
                                                     "linear has that shape, so the layer could not be named",
                           {"phase": phase})
    return Failure("SKILL_FAILED", f"{phase} failed: {head}", {"phase": phase})
