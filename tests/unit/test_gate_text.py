"""gates/text.py: the one definition of a response that prints nothing, and the gates that use it."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gates.serve.decide import judge_canary
from gates.serve.models import CanaryResult
from gates.text import is_blank, prints_nothing

INVISIBLE = ["", " \t\n\r\x0b\x0c", "\u200b\u200b\u200b", "\u200c\u200d\u2060", "\ufeff", "\u200e\u200f\u061c",
             "\u202a\u202b\u202c\u202d\u202e", "\u2066\u2067\u2068\u2069", "\x00\x01\x1b\x7f", "\x85\u2028\u2029",
             "\u00a0\u3000\u2007", "\u00ad", "\U000e0041\U000e0042", "\ue000\uf8ff", "\U0010fffd", "\u0301\u0308",
             "\u3164\u115f\u1160\uffa0", "\u2800\u2800", "\ufe0f", "\u034f", "\u180e"]
VISIBLE = ["5", "a", "Paris", "\u00e9", "e\u0301", "\u4e2d", "\u0905\u093e", "?", "\u2764\ufe0f", "\ufffd", "0 ",
           "\u200b5\u200b", "\u0661"]


@pytest.mark.parametrize("text", INVISIBLE)
def test_invisible_text_is_blank(text):
    assert is_blank(text)


@pytest.mark.parametrize("text", VISIBLE)
def test_visible_text_is_not_blank(text):
    assert not is_blank(text)


@given(st.text(alphabet=st.characters(categories=("Cc", "Cf", "Co", "Zs", "Zl", "Zp", "Mn", "Me")), max_size=30))
def test_any_text_of_invisible_categories_is_blank(text):
    assert is_blank(text)


@given(st.text(max_size=20), st.characters(categories=("Lu", "Ll", "Lo", "Nd", "Po", "Sm")), st.text(max_size=20))
def test_one_visible_base_character_makes_text_non_blank(before, ch, after):
    if ord(ch) in (0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800):
        return
    assert not is_blank(before + ch + after)


@given(st.characters())
def test_prints_nothing_follows_the_category(ch):
    cat = unicodedata.category(ch)
    if cat[0] in "CZM":
        assert prints_nothing(ch)
    elif ord(ch) not in (0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800):
        assert not prints_nothing(ch)


@pytest.mark.parametrize("text", ["\u200b\u200b\u200b", "\ufeff", "\u202e\u2066", "\u0301"])
def test_the_serve_gate_calls_an_invisible_completion_empty(text):
    c = CanaryResult(prompt="What is 2 + 2?", must_contain=["4"], completion=text, http_status=200)
    assert judge_canary(c)[0] == "empty"
