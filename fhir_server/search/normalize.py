"""String normalisation shared by the index and the query, so both sides fold text the same way.

FHIR string search is case- and accent-insensitive (https://hl7.org/fhir/R4/search.html#string);
this server also ignores punctuation and runs of white space: `Müller-Lüdenscheidt, Jr.` and
`muller ludenscheidt jr` index alike. Only letters, digits and single spaces survive, so a normalised
value never contains a LIKE wildcard.
"""

from __future__ import annotations

import unicodedata

__all__ = ["normalize", "truncate", "MAX_INDEXED"]

# the width of the indexed String(255) columns
MAX_INDEXED = 255

_KEEP_CATEGORIES = ("L", "N")
_SPACE_CATEGORIES = ("Z", "Cc")
_SEPARATORS = "-_/"


def _fold(char: str) -> str:
    """What one (decomposed, case-folded) character becomes: itself, a space or nothing."""
    category = unicodedata.category(char)
    if category.startswith(_KEEP_CATEGORIES):
        return char
    if category.startswith(_SPACE_CATEGORIES) or char in _SEPARATORS:
        return " "
    return ""


# the same folding as a translation table, for the common all-ASCII text
_ASCII = str.maketrans({chr(code): _fold(chr(code)) for code in range(128)})


def normalize(text: str) -> str:
    """Lower-case, accents stripped, punctuation removed, white space collapsed to single spaces."""
    if text.isascii():
        folded = text.lower()
        if folded.isalnum():
            return folded
        return " ".join(folded.translate(_ASCII).split())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(_fold(char) for char in decomposed).split())


def truncate(text: str, limit: int = MAX_INDEXED) -> str:
    return text if len(text) <= limit else text[:limit]
