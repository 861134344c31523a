"""Rows in PostgreSQL's binary COPY format, encoded anywhere (a staging worker process) and sent as bytes.

    layout = CopyLayout(("int8", "text", "float8"))
    rows = layout.row((1, "Patient", 2.5)) + layout.row((2, None, 0.0))
    await conn.copy_to_table("t", source=io.BytesIO(copy_payload(rows)), columns=[...], format="binary")

A bulk import encodes its index rows in the worker that staged them, so the writing process only
joins bytes and streams them (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4).
Types are the few the store uses: text, int4, int8, float8, bool, bytea.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Integer, LargeBinary, Table

__all__ = ["CopyLayout", "copy_payload", "column_type"]

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # signature, flags, no extension
TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_TRUE, _FALSE = b"\x00\x00\x00\x01\x01", b"\x00\x00\x00\x01\x00"
_LENGTH = struct.Struct(">i")
_INT4 = struct.Struct(">ii")
_INT8 = struct.Struct(">iq")
_FLOAT8 = struct.Struct(">id")


# short texts encoded before: most index columns repeat a few values (parameter codes, types, code
# systems, units), so a lookup replaces most encodings; emptied when full
_RECURRING: dict[str, bytes] = {}
_RECURRING_MAX = 20_000
_RECURRING_LENGTH = 64


def _text(value: Any) -> bytes:
    if type(value) is str:
        encoded = _RECURRING.get(value)
        if encoded is not None:
            return encoded
    data = (value if isinstance(value, str) else str(value)).encode()
    encoded = _LENGTH.pack(len(data)) + data
    if type(value) is str and len(value) <= _RECURRING_LENGTH:
        if len(_RECURRING) >= _RECURRING_MAX:
            _RECURRING.clear()
        _RECURRING[value] = encoded
    return encoded


def _bytea(value: bytes) -> bytes:
    return _LENGTH.pack(len(value)) + value


_ENCODERS = {
    "text": _text,
    "bytea": _bytea,
    "int4": lambda value: _INT4.pack(4, int(value)),
    "int8": lambda value: _INT8.pack(8, int(value)),
    "float8": lambda value: _FLOAT8.pack(8, float(value)),
    "bool": lambda value: _TRUE if value else _FALSE,
}


def column_type(table: Table, name: str) -> str:
    """The binary COPY type of one of the store's columns."""
    kind = table.c[name].type
    if isinstance(kind, BigInteger):
        return "int8"
    if isinstance(kind, Integer):
        return "int4"
    if isinstance(kind, Float):
        return "float8"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, LargeBinary):
        return "bytea"
    return "text"


class CopyLayout:
    """The encoder of one table's rows (for a given column list)."""

    __slots__ = ("_count", "_encoders")

    def __init__(self, types: Sequence[str]) -> None:
        self._count = struct.pack(">h", len(types))
        self._encoders = tuple(_ENCODERS[kind] for kind in types)

    def row(self, values: Sequence[Any]) -> bytes:
        return self.rows(values, ((),))

    def rows(self, leading: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
        """Rows whose first values are `leading` (a resource's index rows: its pk and type), those
        encoded once: what joining `row((*leading, *values))` for each of `rows` gives."""
        if len(leading) > len(self._encoders):
            raise ValueError(f"{len(leading)} leading values for {len(self._encoders)} columns")
        head = b"".join([self._count, *(_NULL if value is None else encode(value)
                                        for encode, value in zip(self._encoders, leading, strict=False))])
        encoders = self._encoders[len(leading):]
        parts = []
        for values in rows:
            if len(values) != len(encoders):
                raise ValueError(f"a row of {len(leading) + len(values)} values for {len(self._encoders)} columns")
            parts.append(head)
            for encode, value in zip(encoders, values):  # noqa: B905 - lengths checked above
                parts.append(_NULL if value is None else encode(value))
        return b"".join(parts)


def copy_payload(rows: Sequence[bytes]) -> bytes:
    """A whole COPY stream: header, the encoded rows, trailer."""
    return b"".join((HEADER, *rows, TRAILER))
