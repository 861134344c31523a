"""OCR-tolerant spelling: look-alike folding, bounded edit distance, and number repair.

Tesseract's commonest slips on lab reports swap look-alike glyphs: `1`/`l`/`I`/`|` (HbA1c read as
`HbAlc`), `0`/`O` (`O.9`), `5`/`S`, `rn`/`m`, and SI read as `Sl`. Folding maps every member of such a
class to one letter, on both the lexicon and the text, so they compare equal without a guess about
which glyph was meant. What folding cannot absorb (a dropped or extra letter: `HbAi1c`, `Creatinme`)
is left to a bounded Damerau–Levenshtein distance on the folded, punctuation-free form, used only for
names of five letters or more: `ALT`, `AST` and `ALP` are one edit apart and must never be confused.

`repair_number` fixes a value token only where every repaired character sits among digits (`1O2`,
`7.l`, `O.9`) and reports that it did, so the value is marked for review.
"""

from __future__ import annotations

import re

__all__ = ["fold", "compact", "edit_distance", "repair_number", "NUMBER"]

_LOOK_ALIKES = str.maketrans({
    "0": "o", "q": "o",
    "1": "l", "i": "l", "|": "l", "!": "l", "ı": "l",
    "5": "s",
    "µ": "u", "μ": "u",
    "’": "'", "‘": "'", "–": "-", "—": "-",
})


def fold(text: str) -> str:
    """Lower-case `text` with OCR look-alikes folded to one letter each (`HbA1c`, `HbAlc` → `hbalc`)."""
    return text.lower().replace("rn", "m").replace("vv", "w").translate(_LOOK_ALIKES)


def compact(text: str) -> str:
    """The folded text with everything but letters and digits removed: spacing and punctuation vary."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance between `a` and `b`, or `limit + 1` once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_DIGIT_LIKE = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1", "|": "1", "i": "1",
                             "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "g": "9"})


def repair_number(token: str) -> tuple[str, bool] | None:
    """`(number_text, repaired)` for a token that is a decimal number, possibly with OCR slips; else None.

    A decimal comma becomes a point (`7,1` → `7.1`, FHIR decimals use a point); a thousands comma is
    dropped (`1,250` → `1250`). Letters are read as digits only when the token is mostly digits, has
    at least one real digit, and the result is a well-formed number.
    """
    text = token.strip().rstrip(".,;:")
    if not text:
        return None
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):
        return text.replace(",", ""), False
    if re.fullmatch(r"\d+,\d+", text):
        text = text.replace(",", ".")
    if NUMBER.match(text):
        return text, False
    digits = sum(ch.isdigit() for ch in text)
    if digits == 0 or digits * 2 < len(text.replace(".", "")):
        return None
    repaired = text.translate(_DIGIT_LIKE)
    if NUMBER.match(repaired):
        return repaired, True
    return None
