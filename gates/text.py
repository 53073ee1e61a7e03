"""One definition, shared by every gate, of text that prints nothing (an empty response).

`str.strip()` only removes whitespace: a completion made of zero-width spaces (U+200B), bidi marks,
a byte-order mark or control characters survives it and looks like an answer, although a reader
sees nothing. Here a text is blank when it holds no *visible base character*, judged by Unicode
category (the `unicodedata` of the running Python):

  visible base   letters (L*), numbers (N*), punctuation (P*), symbols (S*), except the few of them
                 that are drawn as nothing (the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, which
                 Unicode lists as default-ignorable, and the blank Braille pattern U+2800).
  prints nothing separators and whitespace (Z*, and the Cc whitespace such as tab and newline), every
                 other control (Cc), format characters (Cf: zero-width space/joiners, LRM/RLM, bidi
                 embeddings and isolates, word joiner, BOM, soft hyphen, tag characters), surrogates
                 (Cs), private-use (Co) and unassigned (Cn) code points (no agreed glyph: a response
                 of them carries no readable answer), and combining marks (M*) on their own: a mark
                 prints only on a base character, so a text of marks alone has nothing to show.

So "a\\u0301" (a + combining acute) is not blank, "\\u200b\\u200b" and "\\u0301" are. A code point
that a newer Unicode assigns but this Python does not know is Cn here, hence invisible: the error
can only call a response blank, never make a blank one look answered.
"""

from __future__ import annotations

import unicodedata

# letters / symbols whose glyph is empty (Default_Ignorable_Code_Point letters, and U+2800)
BLANK_GLYPHS = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800})


def prints_nothing(ch: str) -> bool:
    """True for one character that is not a visible base character (see the module docstring)."""
    return unicodedata.category(ch)[0] in "CZM" or ord(ch) in BLANK_GLYPHS


def is_blank(text: str) -> bool:
    """True when `text` holds no visible base character: empty, whitespace, invisible or marks only."""
    return all(prints_nothing(ch) for ch in text)

