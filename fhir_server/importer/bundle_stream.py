"""The entries of a Bundle JSON file, one at a time, without reading the file whole.

A scanner walks the JSON structure chunk by chunk (strings skipped whole, so braces inside them do
not count), finds the top-level `entry` array and yields each element's bytes with its byte range,
so memory stays flat however large the Bundle and an import can resume at an entry boundary.
The top-level `resourceType` and `type` are read on the way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

__all__ = ["BundleScan", "scan_bundle"]

CHUNK = 1 << 20
_TOKEN = re.compile(rb'["{}\[\]:,]')
_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)


@dataclass(slots=True)
class BundleScan:
    """What the scan found at the top level: `resourceType` and `type`, when they are strings."""

    top: dict[str, str] = field(default_factory=dict)
    saw_entries: bool = False


def scan_bundle(handle: BinaryIO, *, start: int = 0, scan: BundleScan | None = None
                ) -> Iterator[tuple[int, int, bytes]]:
    """(start offset, end offset, bytes) of each element of the top-level `entry` array.

    `start` > 0 resumes just after an element a previous scan yielded (its end offset).
    """
    scan = scan if scan is not None else BundleScan()
    handle.seek(start)
    buf = b""
    base = start  # absolute offset of buf[0]
    pos = 0
    depth, in_entries = (2, True) if start else (0, False)
    key: bytes | None = None
    last_string: bytes | None = None
    after_colon = False
    element: int | None = None  # absolute offset where the current entry element began
    eof = False
    while True:
        match = _TOKEN.search(buf, pos)
        if match is None or (match.group() == b'"' and _STRING_REST.match(buf, match.end()) is None):
            if eof:
                return
            keep = (element - base) if element is not None else (match.start() if match else len(buf))
            buf, base, pos = buf[keep:], base + keep, (match.start() - keep) if match else len(buf) - keep
            chunk = handle.read(CHUNK)
            eof = not chunk
            buf += chunk
            continue
        token = match.group()
        pos = match.end()
        if token == b'"':
            end = _STRING_REST.match(buf, pos)
            assert end is not None
            text = buf[pos:end.end() - 1]
            pos = end.end()
            if depth == 1:
                if after_colon and key in (b"resourceType", b"type"):
                    scan.top[key.decode()] = text.decode("utf-8", "replace")
                last_string = text
            after_colon = False
        elif token == b":":
            if depth == 1:
                key, after_colon = last_string, True
        elif token == b",":
            after_colon = False
        elif token in (b"{", b"["):
            depth += 1
            after_colon = False
            if depth == 2 and token == b"[" and key == b"entry":
                in_entries = scan.saw_entries = True
            elif in_entries and depth == 3 and token == b"{":
                element = base + match.start()
        else:
            if in_entries and depth == 3 and token == b"}" and element is not None:
                start_at = element - base
                yield element, base + pos, bytes(buf[start_at:pos])
                element = None
            depth -= 1
            if in_entries and depth == 1:
                in_entries = False
