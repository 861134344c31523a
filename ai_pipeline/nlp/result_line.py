"""The grammar of one result after its test name: value, flag, unit and reference range, in any order.

Reports print the same four things in different column orders (`132 H umol/L 45-90`,
`132 umol/L (45 - 90) H`, `<5 ng/L <14`), and OCR glues or splits them (`7.4H`, `3.5 -5.3`,
`x10^9 /L`). The text is cut at blanks into pieces, glued pieces are split, and a small state machine
reads: optional filler words (`was`, `:`, `=`), an optional comparator and the value, then — in any
order — a flag (H, L, HH, LL, A, N, High, Low, arrows), a unit (anything `units.ucum_code` knows,
alone or joined with the next piece or two), and a range (`lo - hi`, `lo to hi`, `< hi`, `> lo`,
`up to hi`, with or without brackets). The value's text is kept exactly as printed (`7.10` stays
`7.10`); only OCR look-alikes inside it are repaired, and that is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ai_pipeline.nlp.spelling import repair_number
from ai_pipeline.units import ucum_code

__all__ = ["ResultReading", "read_result"]

_FLAGS = {
    "H": "H", "HI": "H", "HIGH": "H", "↑": "H",
    "L": "L", "LO": "L", "LOW": "L", "↓": "L",
    "HH": "HH", "↑↑": "HH", "CRIT": "A", "CRITICAL": "A",
    "LL": "LL", "↓↓": "LL",
    "A": "A", "AA": "A", "ABN": "A", "ABNORMAL": "A", "*": "A",
    "N": "N", "NORMAL": "N", "NORM": "N",
}
_FLAG_REPAIRS = {"l": "L", "|": "L", "LI": "LL", "Ll": "LL", "HI-I": "HH", "IH": "H"}
_FILLERS = {"was", "is", "of", "at", "level", "result", "value", ":", "=", "-", "–", "(", ")", "now", "today",
            "measured", "reported", "noted"}
_NUM = r"[0-9OolI]+(?:[.,][0-9OolI]+)?"
_RANGE = re.compile(
    rf"^[(\[]?\s*(?:(?P<lo>{_NUM})\s*(?:-|–|—|to)\s*(?P<hi>{_NUM})"
    rf"|(?P<cmp><=|>=|≤|≥|<|>)\s*(?P<bound>{_NUM})"
    rf"|up\s+to\s+(?P<upto>{_NUM}))\s*[)\]]?(?=\s|$)",
    re.IGNORECASE,
)
_GLUED = re.compile(r"^(?P<cmp><=|>=|≤|≥|<|>)?(?P<num>\d+(?:[.,]\d+)?)(?P<rest>[A-Za-zµμ%/*↑↓][^\s]*)$")
_COMPARATOR = re.compile(r"^(<=|>=|≤|≥|<|>)(.*)$")
_CMP = {"≤": "<=", "≥": ">=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_PUNCTUATION = set(".,;:_|—–-'\"`~")


@dataclass(frozen=True, slots=True)
class ResultReading:
    """What follows a test name, with character spans relative to the text given to `read_result`."""

    value: str
    value_span: tuple[int, int]
    comparator: str | None = None
    repaired: bool = False
    unit_text: str | None = None
    unit: str | None = None
    flag: str | None = None
    flag_span: tuple[int, int] | None = None
    flag_repaired: bool = False
    range_low: str | None = None
    range_high: str | None = None
    range_text: str | None = None
    end: int = 0


def _pieces(text: str) -> list[tuple[str, int, int]]:
    pieces: list[tuple[str, int, int]] = []
    for match in re.finditer(r"\S+", text):
        piece, start = match.group(), match.start()
        glued = _GLUED.match(piece)
        if glued and (ucum_code(glued.group("rest")) or _flag(glued.group("rest"))):
            split = glued.start("rest")
            pieces.append((piece[:split], start, start + split))
            pieces.append((piece[split:], start + split, match.end()))
        else:
            pieces.append((piece, start, match.end()))
    return pieces


def _flag(piece: str) -> tuple[str, bool] | None:
    bare = piece.strip("()[]!") if piece.strip("*") == "" else piece.strip("()[]*!")
    if bare in _FLAGS and (bare.isupper() or not bare.isalpha() or len(bare) > 2):
        return _FLAGS[bare], False
    if bare.upper() in ("HIGH", "LOW", "ABNORMAL", "NORMAL", "CRITICAL"):
        return _FLAGS[bare.upper()], False
    if bare in _FLAG_REPAIRS:
        return _FLAG_REPAIRS[bare], True
    return None


def _number(text: str) -> str | None:
    found = repair_number(text)
    return found[0] if found else None


def read_result(text: str) -> ResultReading | None:
    """Read the result that `text` (what follows a test name on its line) starts with; None if no value."""
    pieces = _pieces(text)
    i = 0
    while i < len(pieces) and i < 8:
        piece = pieces[i][0]
        if repair_number(piece) or _COMPARATOR.match(piece):
            break
        if piece.startswith("(") and i < 3:  # a qualifier after the name: "(CKD-EPI 2021)", "(serum)"
            while i < len(pieces) and not pieces[i][0].endswith(")"):
                i += 1
            i += 1
            continue
        if piece.lower().strip("()") not in _FILLERS and not all(ch in _PUNCTUATION for ch in piece):
            return None
        i += 1
    if i >= len(pieces):
        return None
    comparator = None
    piece, start, end = pieces[i]
    cmp_match = _COMPARATOR.match(piece)
    if cmp_match:
        comparator = _CMP[cmp_match.group(1)]
        rest = cmp_match.group(2)
        if rest:
            piece, start = rest, end - len(rest)
        elif i + 1 < len(pieces):
            i += 1
            piece, start, end = pieces[i]
        else:
            return None
    number = repair_number(piece)
    if number is None:
        return None
    value, repaired = number
    reading: dict[str, object] = {
        "value": value, "value_span": (start, end), "comparator": comparator, "repaired": repaired, "end": end,
    }
    i += 1
    while i < len(pieces) and i < 14:
        piece, begin, end = pieces[i]
        consumed = 0
        if "flag" not in reading and (flag := _flag(piece)):
            reading["flag"], reading["flag_repaired"] = flag
            reading["flag_span"] = (begin, end)
            consumed = 1
        elif "range_text" not in reading and (found := _range(text, pieces, i)):
            consumed, low, high, range_text = found
            reading.update(range_low=low, range_high=high, range_text=range_text)
        elif "unit_text" not in reading and (found_unit := _unit(pieces, i)):
            consumed, unit_text, unit = found_unit
            reading.update(unit_text=unit_text, unit=unit)
        elif all(ch in _PUNCTUATION for ch in piece):
            consumed = 1
        else:
            break
        i += consumed
        reading["end"] = pieces[i - 1][2]
    return ResultReading(**reading)  # type: ignore[arg-type]  # keys are the dataclass's fields


def _range(text: str, pieces: list[tuple[str, int, int]], i: int) -> tuple[int, str | None, str | None, str] | None:
    start = pieces[i][1]
    match = _RANGE.match(text[start:pieces[min(i + 3, len(pieces) - 1)][2]])
    if not match:
        return None
    end = start + match.end()
    consumed = sum(1 for p in pieces[i:i + 4] if p[1] < end)
    range_text = text[start:end].strip()
    if match.group("lo") is not None:
        low, high = _number(match.group("lo")), _number(match.group("hi"))
        if low is None or high is None:
            return None
        return consumed, low, high, range_text
    bound = _number(match.group("bound") or match.group("upto") or "")
    if bound is None:
        return None
    if match.group("cmp") in (">", ">=", "≥"):
        return consumed, bound, None, range_text
    return consumed, None, bound, range_text


def _unit(pieces: list[tuple[str, int, int]], i: int) -> tuple[int, str, str | None] | None:
    for width in (1, 2, 3):
        if i + width > len(pieces):
            break
        joined = "".join(p[0] for p in pieces[i:i + width])
        code = ucum_code(joined)
        if code is not None:
            return width, " ".join(p[0] for p in pieces[i:i + width]), code
    piece = pieces[i][0]
    if ("/" in piece or "%" in piece) and not repair_number(piece) and len(piece) <= 16:
        return 1, piece, None
    return None
