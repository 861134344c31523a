"""Batches and files: splitting one received block into its messages (HL7 v2.5.1 §2.10.3).

    [FHS] { [BHS] { MSH … } [BTS] } [FTS]

A block that starts with FHS or BHS, or holds more than one MSH (messages simply concatenated, which
python-hl7 and many senders treat as a batch), is split at each MSH. The envelope must be well formed:
one FHS at most and only first, no BHS before the previous batch's BTS, nothing but messages between
header and trailer, and BTS-1 / FTS-1 counts, when given, must match what arrived (a short count means
messages were lost on the way). Blank lines between messages are ignored. A block with a single MSH
and no envelope is returned untouched, so its bytes are stored exactly as received.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hl7_gateway.charset import sniff_wide
from hl7_gateway.errors import BatchError, ErrorLocation

__all__ = ["Frame", "split_frame"]

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")


@dataclass(frozen=True, slots=True)
class Frame:
    """The messages of one received block and, for a batch or file, its header segments."""

    messages: tuple[bytes, ...]
    is_batch: bool = False
    file_header: bytes | None = None
    batch_header: bytes | None = None


def split_frame(raw: bytes) -> Frame:
    """Split a block into messages; raises `BatchError` when the FHS/BHS/BTS/FTS envelope is broken."""
    if sniff_wide(raw):
        return Frame((raw,))
    lines = [line for line in _LINE_BREAK.split(raw) if line.strip()]
    headers = sum(1 for line in lines if line.startswith(b"MSH"))
    if not lines or (headers <= 1 and not any(line.startswith(_ENVELOPE) for line in lines)):
        return Frame((raw,))
    return _Splitter().run(lines)


class _Splitter:
    def __init__(self) -> None:
        self.messages: list[list[bytes]] = []
        self.file_header: bytes | None = None
        self.batch_header: bytes | None = None
        self.in_batch = False
        self.file_closed = False
        self.batch_sizes: list[int] = []
        self.batch_start = 0

    def run(self, lines: list[bytes]) -> Frame:
        for number, line in enumerate(lines, start=1):
            head = line[:3]
            if self.file_closed:
                raise BatchError(f"segment {head.decode('latin-1')!r} after FTS (line {number})",
                                 location=ErrorLocation("FTS"))
            if head == b"FHS":
                if number != 1:
                    where = "inside a message" if self.messages else "after the start"
                    raise BatchError(f"FHS {where} (line {number}): a file has one FHS, first",
                                     location=ErrorLocation("FHS", 2))
                self.file_header = line
            elif head == b"BHS":
                if self.in_batch:
                    raise BatchError(f"BHS before the previous batch's BTS (line {number})",
                                     location=ErrorLocation("BHS", len(self.batch_sizes) + 2))
                self.in_batch = True
                self.batch_start = len(self.messages)
                if self.batch_header is None:
                    self.batch_header = line
            elif head == b"BTS":
                if not self.in_batch:
                    raise BatchError(f"BTS without BHS (line {number})", location=ErrorLocation("BTS"))
                self._check_count(line, len(self.messages) - self.batch_start, "BTS")
                self.batch_sizes.append(len(self.messages) - self.batch_start)
                self.in_batch = False
            elif head == b"FTS":
                if self.file_header is None:
                    raise BatchError(f"FTS without FHS (line {number})", location=ErrorLocation("FTS"))
                if self.in_batch:
                    raise BatchError(f"FTS before the open batch's BTS (line {number})", location=ErrorLocation("FTS"))
                self._check_count(line, len(self.batch_sizes), "FTS")
                self.file_closed = True
            elif head == b"MSH":
                self.messages.append([line])
            elif not self.messages or (self.in_batch and len(self.messages) == self.batch_start):
                raise BatchError(f"segment {head.decode('latin-1')!r} before any MSH (line {number})",
                                 location=ErrorLocation(head.decode("latin-1")))
            else:
                self.messages[-1].append(line)
        if not self.messages:
            raise BatchError("the batch holds no message", location=ErrorLocation("MSH"))
        return Frame(tuple(b"\r".join(m) + b"\r" for m in self.messages), True, self.file_header,
                     self.batch_header)

    def _check_count(self, line: bytes, actual: int, name: str) -> None:
        separator = line[3:4] or b"|"
        fields = line.split(separator)
        count = fields[1].strip() if len(fields) > 1 else b""
        if count and count.isdigit() and int(count) != actual:
            raise BatchError(f"{name}-1 counts {int(count)} but {actual} arrived", code=100,
                             location=ErrorLocation(name, 1, 1))
