"""Escape sequences in text fields (HL7 v2.5.1 §2.7.4 - §2.7.7).

    \\F\\ field separator      \\S\\ component separator      \\T\\ subcomponent separator
    \\R\\ repetition separator \\E\\ escape character         \\Xhh…\\ bytes in hexadecimal
    \\H\\ \\N\\ start/end highlighting (dropped: FHIR strings carry no formatting)
    \\.br\\ \\.sp\\ line breaks; \\.in\\ \\.ti\\ \\.sk\\ \\.ce\\ \\.fi\\ \\.nf\\ formatting commands (§2.7.6)
    \\Cxxyy\\ \\Mxxyyzz\\ character-set switches and \\Z…\\ local escapes (dropped)

Escapes are resolved after the message is split into fields, components and subcomponents, so an
escaped separator never splits anything. An escape character without a closing partner, or an
unknown sequence, is kept as written rather than lost.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["unescape", "escape"]

_FORMATTING: Mapping[str, str] = {".br": "\n", ".sp": "\n", ".fi": "", ".nf": "", ".ce": "\n"}


def unescape(text: str, *, field: str, component: str, repetition: str, escape_char: str,
             subcomponent: str, codec: str = "utf-8") -> str:
    """Resolve the escape sequences in one (sub)component's text."""
    if escape_char not in text:
        return text
    out: list[str] = []
    position = 0
    length = len(text)
    while position < length:
        start = text.find(escape_char, position)
        if start < 0:
            out.append(text[position:])
            break
        out.append(text[position:start])
        end = text.find(escape_char, start + 1)
        if end < 0:  # a lone escape character: keep it literally
            out.append(text[start:])
            break
        sequence = text[start + 1:end]
        replaced = _resolve(sequence, field, component, repetition, escape_char, subcomponent, codec)
        out.append(text[start:end + 1] if replaced is None else replaced)
        position = end + 1
    return "".join(out)


def _resolve(sequence: str, field: str, component: str, repetition: str, escape_char: str,
             subcomponent: str, codec: str) -> str | None:
    simple = {"F": field, "S": component, "T": subcomponent, "R": repetition, "E": escape_char,
              "H": "", "N": ""}
    if sequence in simple:
        return simple[sequence]
    if not sequence:
        return None
    head = sequence[0]
    if head == "X" and len(sequence) > 1:
        try:
            data = bytes.fromhex(sequence[1:])
        except ValueError:
            return None
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            return data.decode("iso8859-1")
    if head == ".":
        command = sequence[:3]
        if command in _FORMATTING:
            count = _count(sequence[3:])
            text = _FORMATTING[command]
            return text * count if command == ".sp" and count else text
        if command in (".in", ".ti"):
            return " " * max(_count(sequence[3:]), 0)
        if command == ".sk":
            return " " * max(_count(sequence[3:]), 1)
        return None
    if head in ("C", "M", "Z"):
        return ""
    return None


def _count(text: str) -> int:
    text = text.strip().lstrip("+")
    return int(text) if text.lstrip("-").isdigit() else 0


def escape(text: str, *, field: str = "|", component: str = "^", repetition: str = "~",
           escape_char: str = "\\", subcomponent: str = "&") -> str:
    """Escape separators and line breaks in text written into a message (e.g. MSA-3, ERR-8)."""
    table = {escape_char: "E", field: "F", component: "S", subcomponent: "T", repetition: "R"}
    out: list[str] = []
    for char in text:
        if char in table:
            out.append(f"{escape_char}{table[char]}{escape_char}")
        elif char == "\r" or char == "\n":
            out.append(f"{escape_char}.br{escape_char}")
        else:
            out.append(char)
    return "".join(out)
