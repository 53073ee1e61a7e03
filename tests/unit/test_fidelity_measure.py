"""The fidelity measurement's per-token math (skills/fidelity/measure.py) against hand-computed values,
the chat preamble mask, and the held-out corpus's independence from the calibration corpus."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from gates.fidelity.collect import corpus_docs, overlap  # noqa: E402
from skills.fidelity.measure import DocStats, doc_stats, encode, measure, position_stats, summary  # noqa: E402
from skills.fidelity.run import HELDOUT_FILE  # noqa: E402
from skills.quantize.calib import CALIBRATION_FILE, Doc, load_corpus  # noqa: E402


def test_position_stats_by_hand():
    # position 0: base logits [0, 0] (P = 1/2, 1/2), cand [ln 3, 0] (P = 3/4, 1/4):
    #   KL = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3); top-1: both index 0 (ties go to the first)
    # position 1: base [1, 0], cand [0, 1]: KL = (s - (1 - s)) * 1 with s = e / (1 + e); top-1 differs
    base = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    cand = torch.tensor([[math.log(3.0), 0.0], [0.0, 1.0]])
    kl, top1, llb, llc = position_stats(base, cand, torch.tensor([1, 0]))
    s = math.e / (1 + math.e)
    assert kl.tolist() == pytest.approx([0.5 * math.log(4 / 3), 2 * s - 1])
    assert top1.tolist() == [True, False]
    assert llb.tolist() == pytest.approx([math.log(0.5), math.log(s)])
    assert llc.tolist() == pytest.approx([math.log(0.25), math.log(1 - s)])


def test_identical_distributions_have_zero_kl_not_minus_epsilon():
    logits = torch.randn(16, 50, generator=torch.Generator().manual_seed(0)) * 10
    kl, top1, llb, llc = position_stats(logits, logits.clone(), torch.zeros(16, dtype=torch.long))
    assert (kl == 0).all() and top1.all() and torch.equal(llb, llc)


def test_doc_stats_scores_positions_after_first_and_drops_nonfinite():
    ids = [5, 1, 0, 1, 1]
    base = torch.zeros(5, 2)
    cand = torch.zeros(5, 2)
    cand[2] = torch.tensor([math.log(3.0), 0.0])  # predicts ids[3]
    cand[3] = torch.tensor([float("nan"), 0.0])  # predicts ids[4]: not finite, not counted
    st = doc_stats("d", "prose", base, cand, ids, first=2)  # ids[0:2] is context (a chat preamble)
    assert st.tokens == 2 and st.nonfinite == 1
    assert st.kl == pytest.approx([0.0, 0.5 * math.log(4 / 3)])
    assert st.top1_agree == 2
    assert st.ll_base == pytest.approx(2 * math.log(0.5))
    assert st.ll_cand == pytest.approx(math.log(0.5) + math.log(0.25))
    assert doc_stats("d", "prose", base, cand, ids[:2], first=2).tokens == 0


class CharTokenizer:
    """One token per character (id = ord), with offsets, and a chat template with a fixed preamble."""

    chat_template = "yes"
    PRE = "<sys>be nice</sys>"

    def __call__(self, text, add_special_tokens=False, return_offsets_mapping=False):
        out = {"input_ids": [ord(c) % 97 for c in text]}
        if return_offsets_mapping:
            out["offset_mapping"] = [(i, i + 1) for i in range(len(text))]
        return out

    def apply_chat_template(self, msgs, tokenize=False):
        return self.PRE + "".join(f"<{m['role']}>{m['content']}" for m in msgs)


def test_a_chat_documents_preamble_is_context_not_scored():
    tok = CharTokenizer()
    ids, first = encode(Doc(turns=("hi", "hello")), tok)
    rendered = tok.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    assert len(ids) == len(rendered) and first == rendered.index("hi")
    ids, first = encode(Doc(text="plain"), tok)
    assert first == 1 and len(ids) == 5


def test_measure_runs_each_document_through_both_models_once():
    calls = {"base": 0, "cand": 0}

    def model(name, bias):
        def forward(x):
            calls[name] += 1
            t = x.shape[1]
            logits = torch.zeros(1, t, 97)
            logits[0, :, 0] = bias
            return SimpleNamespace(logits=logits)
        return forward

    docs = [Doc(text="abc"), Doc(text="defgh"), Doc(turns=("q?", "a."))]
    stats = measure(model("base", 0.0), model("cand", 2.0), CharTokenizer(), docs)
    assert calls == {"base": 3, "cand": 3}
    assert [s.kind for s in stats] == ["prose", "prose", "chat"]
    assert all(s.tokens > 0 and min(s.kl) > 0 for s in stats)
    sm = summary(stats)
    assert sm["tokens"] == sum(s.tokens for s in stats) and sm["kl_max"] >= sm["kl_p99"] >= 0
    assert summary([DocStats("x", "prose")]) == {"tokens": 0}


def test_the_shipped_heldout_corpus_is_not_calibration_text():
    held, cal = load_corpus(HELDOUT_FILE), load_corpus(CALIBRATION_FILE)
    assert len(held) >= 48 and sum(d.is_chat for d in held) >= 10
    texts = corpus_docs(HELDOUT_FILE.read_text())
    assert len(texts) == len(held)
    assert overlap(texts, corpus_docs(CALIBRATION_FILE.read_text())) == 0
    assert len(cal) > 0
