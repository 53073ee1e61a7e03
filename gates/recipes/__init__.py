"""The recipe catalogue: what each named PTQ recipe promises about the checkpoint it exports.

A recipe is data, not code: a strict pydantic model, loaded from `gates/recipes/<name>.yaml` or
from a YAML/JSON file the user names. Loading needs neither torch nor modelopt, so the ptq gate
can judge a checkpoint on a machine that could never have produced it.

    >>> load_recipe("fp8").weight_dtype
    'F8_E4M3'
    >>> load_recipe("path/to/my_recipe.yaml")  # doctest: +SKIP

Module-name patterns (`covers`, `exclude`) are fnmatch globs over a module name such as
`model.layers.0.mlp.down_proj`. A pattern matches a module when it matches the name itself or
the name followed by "." -- so modelopt's own quantizer patterns (`*mlp.gate.*`, `*lm_head*`,
`mtp.*`) can be copied unchanged: `*mlp.gate.*` matches `...mlp.gate` but not `...mlp.gate_proj`.
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal, Optional, Sequence

from pydantic import Field, ValidationError

from gates.contract import InputError, StrictModel

RECIPE_DIR = Path(__file__).resolve().parent

# safetensors dtype names and their width in bits (safetensors >= 0.6 adds the sub-byte floats)
DTYPE_BITS: dict[str, float] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64, "C64": 64,
}
SafetensorsDtype = Literal[
    "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
    "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "I64", "U64", "F64", "C64",
]
ScaleName = Literal["weight_scale", "weight_scale_2", "input_scale", "pre_quant_scale"]

# What modelopt's *_CFG dicts leave unquantized by default (their `"enable": False` entries and the
# nn.Embedding class rule), restated as module-name patterns; plus the usual embedding names.
DEFAULT_EXCLUDE: tuple[str, ...] = (
    "*lm_head*", "*embed*", "*wte", "*wpe", "*word_embeddings*",
    "*block_sparse_moe.gate*", "*mlp.gate.*", "*mlp.shared_expert_gate.*", "*router*",
    "*linear_attn.conv1d*", "*self_attention.conv1d*", "*mixer.conv1d*",
    "*linear_attn.in_proj_a*", "*linear_attn.in_proj_b*",
    "*output_layer*", "*proj_out.*", "mtp.*", "output.*",
    "*vision_tower*", "*visual*", "*vision_model*", "*multi_modal_projector*",
)


class Recipe(StrictModel):
    """What a PTQ recipe must leave in the exported checkpoint."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    modelopt_config: Optional[str] = Field(default=None, description="modelopt config it mirrors, e.g. FP8_DEFAULT_CFG")
    quant_algo: str = Field(min_length=1, description="quant_algo the export must declare (hf_quant_config.json)")
    kv_cache_quant_algo: Optional[str] = Field(default=None, description="declared KV-cache quantization; null: none")
    weight_dtype: SafetensorsDtype = Field(description="stored dtype of a covered layer's .weight")
    packed_int4: bool = Field(default=False, description="two 4-bit values per byte: half the elements of the source")
    block_size: Optional[int] = Field(default=None, gt=0, description="elements per scale block, if block-quantized")
    required_scales: list[ScaleName] = Field(description="scale tensors every covered layer must carry")
    covers: list[str] = Field(default_factory=lambda: ["*"], min_length=1, description="module patterns quantized")
    exclude: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDE),
                               description="module patterns left unquantized even when covered")
    bits_per_weight: float = Field(gt=0, le=32, description="stored bits per weight incl. scales, for size estimates")
    needs_cuda: bool = Field(description="the recipe cannot be produced/used without a CUDA GPU")


class _Matcher:
    """Matches `module + "."` against globs: p matches a module iff p or p + "." matches module + ".".

    The common shapes (*x*, *x, x*, x) use str methods; anything else one combined regex.
    """

    def __init__(self, patterns: tuple[str, ...]):
        subs, pre, suf, exact, other = [], [], [], set(), []
        for p in patterns:
            lead, trail = p.startswith("*"), len(p) > 1 and p.endswith("*")
            core = p[1 if lead else 0: len(p) - 1 if trail else len(p)]
            if any(c in core for c in "*?["):
                other.append(p)
            elif lead and trail:
                subs.append(core)
            elif lead:
                suf += [core, core + "."]
            elif trail:
                pre.append(core)
            else:
                exact |= {core, core + "."}
        self.subs, self.pre, self.suf, self.exact = subs, tuple(pre), tuple(suf), exact
        self.rx = re.compile("|".join(fnmatch.translate(q) for p in other for q in (p, p + "."))) if other else None

    def __call__(self, module: str) -> bool:
        m = module + "."
        return (m in self.exact or m.startswith(self.pre) or m.endswith(self.suf) or any(x in m for x in self.subs)
                or (self.rx is not None and self.rx.match(m) is not None))


@lru_cache(maxsize=256)
def matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """A compiled (and cached) module -> bool for a set of patterns."""
    return _Matcher(patterns)


def matches_any(module: str, patterns: Sequence[str]) -> bool:
    """modelopt-style glob match of one module name against several patterns (module docstring)."""
    return matcher(tuple(patterns))(module)


def matches(module: str, pattern: str) -> bool:
    return matches_any(module, (pattern,))


def recipe_classifier(recipe: Recipe) -> Callable[[str], tuple[str, Optional[str]]]:
    """module -> ('excluded', pattern) | ('covered', pattern) | ('not_covered', None)."""
    excluded, covered = matcher(tuple(recipe.exclude)), matcher(tuple(recipe.covers))

    def classify(module: str) -> tuple[str, Optional[str]]:
        if excluded(module):
            return "excluded", next(p for p in recipe.exclude if matches(module, p))
        if covered(module):
            return "covered", next(p for p in recipe.covers if matches(module, p))
        return "not_covered", None
    return classify


def recipe_status(recipe: Recipe, module: str) -> tuple[str, Optional[str]]:
    """The classification of one module (see recipe_classifier)."""
    return recipe_classifier(recipe)(module)


def with_exclusions(base: Recipe, exclude: Sequence[str] = (), kv_cache_quant_algo: Optional[str] = None,
                    origin: str = "the quantize call") -> Recipe:
    """`base` with `exclude` appended (patterns it lacks, in order) and, if given, a KV-cache format: the
    effective recipe a modified run follows and the ptq gate judges; the description says what was added."""
    extra = [p for p in dict.fromkeys(exclude) if p not in base.exclude]
    kv = kv_cache_quant_algo or base.kv_cache_quant_algo
    if not extra and kv == base.kv_cache_quant_algo:
        return base
    notes = []
    if extra:
        notes.append(f"{len(extra)} exclusion pattern(s) added by {origin}: {', '.join(extra)}")
    if kv != base.kv_cache_quant_algo:
        notes.append(f"KV cache {kv} added by {origin}")
    desc = f"{base.description} [{'; '.join(notes)}]".strip()
    return base.model_copy(update={"exclude": list(base.exclude) + extra, "kv_cache_quant_algo": kv,
                                   "description": desc})


def known_recipes() -> list[str]:
    """Names of the recipes shipped in gates/recipes/*.yaml."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def _looks_like_path(arg: str) -> bool:
    """A separator or a recipe suffix means a file; otherwise a shipped name wins over a same-named file."""
    if "/" in arg or "\\" in arg or arg.endswith((".yaml", ".yml", ".json")):
        return True
    return arg not in known_recipes() and Path(arg).is_file()


def _parse(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        from gates.contract import parse_json_strict

        return parse_json_strict(text)
    import yaml

    return yaml.safe_load(text)


def load_recipe_file(path: Path) -> Recipe:
    """Read and validate one recipe file; every problem is an InputError naming the field."""
    if not path.is_file():
        raise InputError("--recipe", f"recipe file {str(path)!r} does not exist")
    try:
        data = _parse(path)
    except Exception as exc:  # yaml.YAMLError, ValueError, UnicodeDecodeError, OSError
        raise InputError("--recipe", f"{str(path)!r} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError("--recipe", f"{str(path)!r} must hold a mapping, got {type(data).__name__}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise InputError(f"recipe field '{loc}'", f"{err['msg']} in {str(path)!r}{more}") from None


def load_recipe(name_or_path: str) -> Recipe:
    """A shipped recipe by name, or a recipe file by path."""
    if _looks_like_path(name_or_path):
        return load_recipe_file(Path(name_or_path))
    if name_or_path not in known_recipes():
        raise InputError("--recipe", f"unknown recipe {name_or_path!r}; known recipes are "
                                     f"{', '.join(known_recipes())} (or give the path of a .yaml/.json recipe file)")
    recipe = load_recipe_file(RECIPE_DIR / f"{name_or_path}.yaml")
    if recipe.name != name_or_path:
        raise InputError("recipe field 'name'", f"{name_or_path}.yaml names itself {recipe.name!r}")
    return recipe


