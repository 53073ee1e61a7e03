"""A recipe proposal: a catalogue recipe plus modules kept unquantized, and the calibration to use.

What the agent (or the autopilot) may propose after a recipe regressed, and nothing else: the format
is a shipped recipe, the only changes are exclusions and calibration. A proposal has no field that
could touch a threshold, a gate, a task or a budget (unknown fields are refused by name), so every
proposal is judged by the same gates as the release's first recipe.

    p = parse_proposal({"base": "int8_sq", "exclude_first_layers": 1, "calib_size": 128, "reason": "..."})
    r = resolve(p, checkpoint_modules(Path("ckpt")))   # gates.ptq.modules; ProposalError when it cannot apply
    r.recipe            # the effective Recipe the ptq gate judges: base + r.exclude_patterns
    r.excluded_modules  # the modules the proposal keeps unquantized beyond the base recipe's

Refused (ProposalError): an unknown base recipe; a field that is not a proposal field; a pattern that
matches no weight module of the checkpoint (names read from its safetensors headers); a pattern or
option that only matches modules the base recipe already leaves unquantized (it changes nothing); a
sensitivity ranking measured for another recipe; exclusions that leave nothing quantized.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from pydantic import Field, ValidationError, field_validator

from gates.contract import StrictModel
from gates.recipes import DTYPE_BITS, Recipe, known_recipes, load_recipe, matcher, recipe_classifier, with_exclusions

PATTERN_RE = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")
ATTENTION_PARTS = ("self_attn", "attn", "attention", "self_attention")
# names an agent might try in order to loosen the release; refused with a sentence that says why
LOOSENING = ("threshold", "threshold_kind", "anomalous_gain", "tolerance", "size_tolerance", "confidence",
             "gates", "skip_gates", "skip", "tasks", "limit", "budget", "max_recipes", "force", "accept")
_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)")


class ProposalError(ValueError):
    """The proposal cannot be applied: the message is one sentence for the agent."""


class SensitiveExclusion(StrictModel):
    ranking: str = Field(min_length=1, description="ranking.json written by the sensitivity skill (its artifact)")
    top_k: int = Field(ge=1, le=64, description="exclude the top_k groups of that ranking")


class RecipeProposal(StrictModel):
    """The next recipe to try: a catalogue format, modules kept unquantized, and the calibration."""

    base: str = Field(min_length=1, description="a recipe of the catalogue (gates/recipes/*.yaml), e.g. int8_sq, fp8")
    exclude: list[str] = Field(default_factory=list, max_length=256,
                               description="module-name globs kept unquantized, e.g. 'model.layers.3.*'")
    exclude_first_layers: int = Field(default=0, ge=0, le=1024,
                                      description="keep the first N decoder layers unquantized")
    exclude_last_layers: int = Field(default=0, ge=0, le=1024, description="keep the last N decoder layers unquantized")
    exclude_attention: bool = Field(default=False, description="keep every attention projection unquantized")
    exclude_sensitive: Optional[SensitiveExclusion] = Field(
        default=None, description="keep the top_k groups of a sensitivity ranking unquantized")
    calib_size: int = Field(default=64, ge=1, le=4096, description="calibration sequences")
    calib_seq_len: int = Field(default=256, ge=16, le=8192, description="tokens per calibration sequence")
    calib_data: Optional[str] = Field(
        default=None, min_length=1,
        description="a calibration text file (the format of skills/data/calibration.txt); null: the shipped text")
    reason: str = Field(min_length=1, max_length=2000, description="why this proposal: the evidence it answers")

    @field_validator("base")
    @classmethod
    def _base_known(cls, v: str) -> str:
        if v not in known_recipes():
            raise ValueError(f"unknown recipe {v!r}; a proposal's base is one of {', '.join(known_recipes())}")
        return v

    @field_validator("exclude")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if not PATTERN_RE.match(p)]
        if bad:
            raise ValueError(f"exclude pattern {bad[0]!r} must be a module-name glob (letters, digits, _ . - * ? [ ])")
        if len(set(v)) != len(v):
            raise ValueError("exclude patterns must be unique")
        return v


def _first_error(exc: ValidationError) -> str:
    extra = [e for e in exc.errors(include_url=False) if e["type"] == "extra_forbidden"]
    if extra:
        name = ".".join(str(p) for p in extra[0]["loc"])
        why = ("thresholds, gates, tasks and budgets belong to the release and no proposal can change them"
               if name.split(".")[-1] in LOOSENING else "a proposal has only base, exclusions, calibration and reason")
        return f"'{name}' is not a proposal field: {why}"
    e = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in e["loc"]) or "(proposal)"
    msg = str(e["msg"]).removeprefix("Value error, ")
    return f"proposal field '{loc}': {msg}"


def parse_proposal(data: Any) -> RecipeProposal:
    """Validate a proposal (a dict, as the tool receives it); ProposalError with one sentence otherwise."""
    if not isinstance(data, dict):
        raise ProposalError(f"a proposal is an object, not {type(data).__name__}")
    try:
        return RecipeProposal.model_validate(data)
    except ValidationError as exc:
        raise ProposalError(_first_error(exc)) from None


# ------------------------------------------------------------------ the checkpoint's modules


@dataclass(frozen=True)
class ModelModules:
    """The weight matrices of a checkpoint (module name -> parameters, stored dtype), from its headers."""

    path: str
    params: dict[str, int]
    dtypes: dict[str, str]
    tensor_bytes: int

    @property
    def names(self) -> list[str]:
        return list(self.params)


def numbered_layers(names: Sequence[str]) -> tuple[str, list[int]]:
    """The repeated-block container (`model.layers`) and its indices, in order."""
    counts: dict[str, set[int]] = {}
    for n in names:
        m = _INDEX.search(n)
        if m:
            counts.setdefault(n[: m.start() - 1], set()).add(int(m.group()))
    if not counts:
        raise ProposalError("this checkpoint has no numbered layers (no module name like model.layers.0.*)")
    prefix = max(counts, key=lambda k: (len(counts[k]), -len(k)))
    return prefix, sorted(counts[prefix])


def attention_patterns(names: Sequence[str]) -> list[str]:
    """`<block>.*.<attention part>.*` for every attention sub-block the names show."""
    out = set()
    for n in names:
        parts = n.split(".")
        for i, part in enumerate(parts[:-1]):
            if part in ATTENTION_PARTS:
                out.add(_INDEX.sub("*", ".".join(parts[: i + 1])) + ".*")
                break
    if not out:
        raise ProposalError(f"no attention projection found among the {len(names)} weight modules "
                            f"(looked for a name part in {', '.join(ATTENTION_PARTS)})")
    return sorted(out)


# ------------------------------------------------------------------ resolution


class ResolvedProposal(StrictModel):
    """A proposal applied to one checkpoint: the recipe to run and judge, and what it leaves unquantized."""

    proposal: RecipeProposal
    recipe: Recipe = Field(description="the effective recipe: base plus exclude_patterns (what the ptq gate judges)")
    exclude_patterns: list[str] = Field(description="every pattern the proposal adds, explicit or derived")
    pattern_origin: dict[str, str] = Field(description="pattern -> the proposal field it came from")
    excluded_modules: list[str] = Field(description="modules the base recipe quantizes and the proposal does not")
    quantized_modules: int = Field(ge=1, description="modules the effective recipe quantizes")
    base_quantized_modules: int = Field(ge=1, description="modules the base recipe quantizes")
    quantized_params_fraction: float = Field(ge=0, le=1, description="of the base recipe's quantized parameters")
    estimated_size_ratio: float = Field(gt=0, description="export weight bytes / source weight bytes, estimated")
    identity: str = Field(description="digest of what determines the candidate (base, modules, calibration)")


def load_ranking(path: Path, recipe: str) -> list[dict[str, Any]]:
    """The rows of a sensitivity ranking.json measured for `recipe`, most sensitive first."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProposalError(f"sensitivity ranking {str(path)!r} is unreadable: {exc}") from None
    rows = data.get("ranking") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("pattern"), str)
                                             and isinstance(r.get("effect"), (int, float)) for r in rows):
        raise ProposalError(f"{str(path)!r} is not a sensitivity ranking (ranking: [{{pattern, effect}}, ...])")
    if data.get("recipe") != recipe:
        raise ProposalError(f"the sensitivity ranking {str(path)!r} was measured for recipe {data.get('recipe')!r}, "
                            f"not {recipe!r}: measure it for {recipe}")
    return sorted(rows, key=lambda r: -float(r["effect"]))


def _sensitive(s: SensitiveExclusion, recipe: str, base_dir: Optional[Path]) -> list[str]:
    path = Path(s.ranking)
    rows = load_ranking(path if path.is_absolute() or base_dir is None else base_dir / path, recipe)
    hurt = [r["pattern"] for r in rows if float(r["effect"]) > 0]
    if s.top_k > len(hurt):
        raise ProposalError(f"exclude_sensitive.top_k is {s.top_k} but the ranking measured only {len(hurt)} group(s) "
                            "whose quantization hurt: excluding the others is not what the evidence says")
    return hurt[: s.top_k]


def requested_patterns(p: RecipeProposal, names: Sequence[str], base_dir: Optional[Path]) -> dict[str, str]:
    """pattern -> the field that asked for it, in the order given."""
    out = {q: "exclude" for q in p.exclude}
    if p.exclude_first_layers or p.exclude_last_layers:
        prefix, idx = numbered_layers(names)
        first = idx[: p.exclude_first_layers]
        last = idx[len(idx) - p.exclude_last_layers:] if p.exclude_last_layers else []
        out.update({f"{prefix}.{i}.*": "exclude_first_layers" for i in first})
        out.update({f"{prefix}.{i}.*": "exclude_last_layers" for i in last if f"{prefix}.{i}.*" not in out})
    if p.exclude_attention:
        out.update({q: "exclude_attention" for q in attention_patterns(names) if q not in out})
    if p.exclude_sensitive is not None:
        out.update({q: "exclude_sensitive" for q in _sensitive(p.exclude_sensitive, p.base, base_dir) if q not in out})
    return out


def _examples(names: Sequence[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")


def _check_pattern(pattern: str, origin: str, names: Sequence[str], covered: set[str], base: Recipe) -> list[str]:
    """The modules `pattern` newly keeps unquantized; refuses a pattern that matches nothing or changes nothing."""
    m = matcher((pattern,))
    hit = [n for n in names if m(n)]
    if not hit:
        raise ProposalError(f"{origin} pattern {pattern!r} matches no weight module of this checkpoint "
                            f"({len(names)} modules, e.g. {_examples(names, 3)})")
    new = [n for n in hit if n in covered]
    if not new:
        raise ProposalError(f"{origin} pattern {pattern!r} only matches modules recipe {base.name} already leaves "
                            f"unquantized ({_examples(hit)}): it changes nothing")
    return new


def _size(mods: ModelModules, kept: Sequence[str], recipe: Recipe) -> float:
    saved = sum(mods.params[n] * (DTYPE_BITS.get(mods.dtypes[n], 16) - recipe.bits_per_weight) / 8 for n in kept)
    return max(1e-6, (mods.tensor_bytes - saved) / mods.tensor_bytes) if mods.tensor_bytes else 1.0


def identity(p: RecipeProposal, excluded: Sequence[str]) -> str:
    key = {"base": p.base, "excluded": sorted(excluded), "calib_size": p.calib_size,
           "calib_seq_len": p.calib_seq_len, "calib_data": p.calib_data}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def resolve(p: RecipeProposal, mods: ModelModules, base_dir: Optional[Path] = None) -> ResolvedProposal:
    """Apply `p` to the checkpoint whose modules are `mods` (see the module docstring for the refusals)."""
    base = load_recipe(p.base)
    classify, names = recipe_classifier(base), mods.names
    covered = [n for n in names if classify(n)[0] == "covered"]
    if not covered:
        raise ProposalError(f"recipe {base.name} quantizes none of the {len(names)} weight modules of this checkpoint")
    cov = set(covered)
    origin = requested_patterns(p, names, base_dir)
    excluded: set[str] = set()
    for pattern, field in origin.items():
        excluded.update(_check_pattern(pattern, field, names, cov, base))
    kept = [n for n in covered if n not in excluded]
    if not kept:
        raise ProposalError(f"the exclusions keep all {len(covered)} modules recipe {base.name} quantizes "
                            "unquantized: nothing would be quantized")
    recipe = with_exclusions(base, list(origin))
    frac = sum(mods.params[n] for n in kept) / sum(mods.params[n] for n in covered)
    return ResolvedProposal(
        proposal=p, recipe=recipe, exclude_patterns=list(origin), pattern_origin=origin,
        excluded_modules=[n for n in covered if n in excluded], quantized_modules=len(kept),
        base_quantized_modules=len(covered), quantized_params_fraction=round(frac, 6),
        estimated_size_ratio=round(_size(mods, kept, recipe), 6), identity=identity(p, sorted(excluded)))
