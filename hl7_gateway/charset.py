"""Character sets: MSH-18 to a Python codec, and decoding that survives a wrong declaration.

HL7 v2.5.1 §2.14.9.18 (MSH-18 Character Set, HL7 table 0211) names the character set of the whole
message; its first repetition is the default set, later ones are alternates switched to with escape
sequences. Without MSH-18 the message is 7-bit ASCII (§2.7.1). Senders get this wrong often - an
`ASCII` label on UTF-8 bytes, `8859/1` on Windows-1252 - so decoding falls back instead of failing:
the declared codec first, then UTF-8, Windows-1252 and finally ISO 8859-1 (which accepts any byte).
A fallback is reported as a warning on the parsed message, never as an error.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["Decoded", "codec_for", "decode", "encode", "sniff_wide"]

# HL7 table 0211 - Alternate character sets → Python codec names.
_TABLE_0211: dict[str, str] = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "8859/1": "iso8859-1",
    "ISO IR100": "iso8859-1",
    "8859/2": "iso8859-2",
    "ISO IR101": "iso8859-2",
    "8859/3": "iso8859-3",
    "ISO IR109": "iso8859-3",
    "8859/4": "iso8859-4",
    "ISO IR110": "iso8859-4",
    "8859/5": "iso8859-5",
    "ISO IR144": "iso8859-5",
    "8859/6": "iso8859-6",
    "ISO IR127": "iso8859-6",
    "8859/7": "iso8859-7",
    "ISO IR126": "iso8859-7",
    "8859/8": "iso8859-8",
    "ISO IR138": "iso8859-8",
    "8859/9": "iso8859-9",
    "ISO IR148": "iso8859-9",
    "8859/15": "iso8859-15",
    "ISO IR14": "shift_jis",
    "ISO IR87": "iso2022_jp",
    "ISO IR159": "iso2022_jp_2",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "CNS 11643-1992": "big5",
    "BIG-5": "big5",
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "ISO IR192": "utf-8",
    "UNICODE UTF-16": "utf-16",
    "UNICODE UTF-32": "utf-32",
}
_FALLBACKS = ("utf-8", "cp1252", "iso8859-1")


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text, the codec that decoded it and, when it is not the declared one, why."""

    text: str
    codec: str
    warning: str | None = None


def codec_for(declared: str) -> str | None:
    """The Python codec for an MSH-18 value (table 0211), or None when the label is unknown."""
    label = " ".join(declared.upper().replace("_", " ").split())
    if not label:
        return None
    found = _TABLE_0211.get(label)
    if found is None:
        try:  # senders also write plain codec names: "UTF-8", "windows-1252", "latin1"
            found = codecs.lookup(declared.strip()).name
        except LookupError:
            return None
    return found


def sniff_wide(raw: bytes) -> str | None:
    """UTF-16/32 cannot be read byte-wise to find MSH-18: recognise them by their BOM or NUL pattern."""
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if raw.startswith(b"M\x00\x00\x00S\x00\x00\x00"):
        return "utf-32-le"
    if raw.startswith(b"\x00\x00\x00M\x00\x00\x00S"):
        return "utf-32-be"
    if raw.startswith(b"M\x00S\x00H\x00"):
        return "utf-16-le"
    if raw.startswith(b"\x00M\x00S\x00H"):
        return "utf-16-be"
    return None


def decode(raw: bytes, declared: str) -> Decoded:
    """Decode `raw` as MSH-18 `declared` says, falling back (with a warning) when that is wrong."""
    codec = codec_for(declared) if declared else "ascii"
    if codec is not None:
        try:
            return Decoded(raw.decode(codec), codec)
        except UnicodeDecodeError as exc:
            reason = f"MSH-18 declares {declared or 'nothing (ASCII)'} but byte {exc.start} is not {codec}"
    else:
        reason = f"MSH-18 character set '{declared}' is not in HL7 table 0211"
    for fallback in _FALLBACKS:
        try:
            text = raw.decode(fallback)
        except UnicodeDecodeError:
            continue
        if not declared and fallback == "utf-8":
            return Decoded(text, fallback)  # no declaration and valid UTF-8: the usual case, no warning
        return Decoded(text, fallback, f"{reason}; decoded as {fallback}")
    raise AssertionError("iso8859-1 decodes any byte string")  # pragma: no cover


def encode(text: str, codec: str) -> bytes:
    """Encode an outgoing message (an ACK) in the codec its message was read with."""
    return text.encode(codec, errors="replace")
