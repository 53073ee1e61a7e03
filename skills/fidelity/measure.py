"""Label-free fidelity: the candidate's next-token distributions against the baseline's, token by token.

For every held-out document (skills/data/fidelity_heldout.txt, never calibration text) both models read the
same token ids once (one forward pass each, teacher-forced). At every position t that predicts a
token of the document (the chat template's fixed preamble is not scored):

    kl[t]   = KL(P_base(.|x<t) || P_cand(.|x<t)) = sum_v P_base(v) (log P_base(v) - log P_cand(v))   (nats)
    top1[t] = argmax P_base(.|x<t) == argmax P_cand(.|x<t)
    llb[t], llc[t] = log P_base(x_t|x<t), log P_cand(x_t|x<t)

Per document we keep the per-token KL values (for the percentiles), the count of top-1 agreements,
and the summed log-likelihoods; gates/fidelity/collect.py turns them into means, percentiles and
standard errors (documents are the independent units). Non-finite values are counted, never kept.

Both models are loaded once; documents go through one at a time, so memory is two models plus one
document's logits. (Scaling out to models that do not fit twice: store the baseline's top-k log-probs
per position and bound the KL from the candidate's side; not needed for the embedded model.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from skills.quantize.calib import Doc, render


@dataclass
class DocStats:
    doc_id: str
    kind: str  # prose | chat
    tokens: int = 0  # scored positions
    kl: list[float] = field(default_factory=list)  # per scored position, nats
    top1_agree: int = 0
    ll_base: float = 0.0
    ll_cand: float = 0.0
    nonfinite: int = 0  # positions whose KL or log-likelihoods were not finite (not in the sums)

    def as_json(self, digits: int = 7) -> dict[str, Any]:
        return {"id": self.doc_id, "kind": self.kind, "tokens": self.tokens, "kl": [round(x, digits) for x in self.kl],
                "top1_agree": self.top1_agree, "ll_base": self.ll_base, "ll_cand": self.ll_cand,
                "nonfinite": self.nonfinite}


def position_stats(base_logits: Any, cand_logits: Any, targets: Any) -> tuple[Any, Any, Any, Any]:
    """Per position (tensors [T, V], [T, V], [T]): KL(base || cand), top-1 agreement, log P_base(target),
    log P_cand(target). Computed in float64: a KL of 1e-5 must not drown in float32 rounding."""
    import torch

    lp_b = torch.log_softmax(base_logits.double(), dim=-1)
    lp_c = torch.log_softmax(cand_logits.double(), dim=-1)
    kl = (lp_b.exp() * (lp_b - lp_c)).sum(dim=-1).clamp_min(0.0)  # rounding can give -1e-18
    top1 = lp_b.argmax(dim=-1) == lp_c.argmax(dim=-1)
    idx = targets.long().unsqueeze(-1)
    return kl, top1, lp_b.gather(-1, idx).squeeze(-1), lp_c.gather(-1, idx).squeeze(-1)


def encode(doc: Doc, tokenizer: Any) -> tuple[list[int], int]:
    """(token ids, index of the first token that is the document's own text). For a chat document the
    template's preamble (system prompt, role headers before the first turn) is context, not scored."""
    text = render(doc, tokenizer)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    if not doc.is_chat:
        return ids, 1
    start = text.find(doc.turns[0])
    first = next((i for i, (a, b) in enumerate(enc["offset_mapping"]) if b > start), len(ids))
    return ids, max(1, first)


def doc_stats(doc_id: str, kind: str, base_logits: Any, cand_logits: Any, ids: Sequence[int], first: int) -> DocStats:
    """Stats of one document from both models' logits over `ids` ([T, V] each): positions first..T-1."""
    import torch

    out = DocStats(doc_id=doc_id, kind=kind)
    if len(ids) <= first:
        return out
    targets = torch.tensor(ids[first:])
    kl, top1, llb, llc = position_stats(base_logits[first - 1:-1], cand_logits[first - 1:-1], targets)
    finite = torch.isfinite(kl) & torch.isfinite(llb) & torch.isfinite(llc)
    out.nonfinite = int((~finite).sum())
    out.tokens = int(finite.sum())
    out.kl = [float(x) for x in kl[finite]]
    out.top1_agree = int(top1[finite].sum())
    out.ll_base, out.ll_cand = float(llb[finite].sum()), float(llc[finite].sum())
    return out


def logits_of(model: Any, ids: Sequence[int], device: str) -> Any:
    import torch

    with torch.no_grad():
        x = torch.tensor([list(ids)], device=device)
        return model(x).logits[0].float().cpu()


def measure(base: Any, cand: Any, tokenizer: Any, docs: Sequence[Doc], *, device: str = "cpu",
            max_tokens: int = 1024, progress: Optional[Any] = None) -> list[DocStats]:
    """One forward pass per model per document (truncated to max_tokens)."""
    out = []
    for i, doc in enumerate(docs):
        ids, first = encode(doc, tokenizer)
        ids = ids[:max_tokens]
        kind = "chat" if doc.is_chat else "prose"
        out.append(doc_stats(f"heldout-{i:03d}", kind, logits_of(base, ids, device), logits_of(cand, ids, device),
                             ids, first))
        if progress is not None:
            progress(i + 1, len(docs))
    return out


def summary(stats: Sequence[DocStats]) -> dict[str, float]:
    """A quick look (the gate's collector computes the facts with standard errors)."""
    n = sum(s.tokens for s in stats)
    if not n:
        return {"tokens": 0}
    kl = sorted(x for s in stats for x in s.kl)
    return {"tokens": n, "kl_mean": sum(kl) / n, "kl_p99": kl[max(0, math.ceil(0.99 * n) - 1)], "kl_max": kl[-1],
            "top1_agreement": sum(s.top1_agree for s in stats) / n,
            "ll_diff_per_token": sum(s.ll_cand - s.ll_base for s in stats) / n}
