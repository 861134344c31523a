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


# each type's encoding as an expression of the value `{v}` (not None), for the encoders a layout compiles
_EXPRESSIONS = {
    "text": "(R.get({v}) or T({v}))",  # most texts recur: a lookup before the encoding
    "bytea": "L(len({v})) + {v}",
    "int4": "I4(4, int({v}))",
    "int8": "I8(8, int({v}))",
    "float8": "F8(8, float({v}))",
    "bool": "(TRUE if {v} else FALSE)",
}


def _compile_encoder(types: Sequence[str], keys: Sequence[str] | None) -> Any:
    """A function (head, rows) → the rows encoded, each after `head`, for rows of `types`: sequences,
    or mappings read by `keys` (a missing key is NULL). One statement per row, no call per value but
    the encodings' own: a load encodes millions of values."""
    names = [f"v{n}" for n in range(len(types))]
    parts = ", ".join(f"N if {name} is None else {_EXPRESSIONS[kind].format(v=name)}"
                      for name, kind in zip(names, types, strict=True))
    if keys is None:
        loop = f"    for {', '.join(names)}{',' if len(names) == 1 else ''} in rows:\n"
    else:
        reads = "; ".join(f"{name} = get({key!r})" for name, key in zip(names, keys, strict=True))
        loop = f"    for row in rows:\n        get = row.get\n        {reads}\n"
    source = (f"def encode(head, rows):\n"
              f"    out = []\n"
              f"    extend = out.extend\n"
              f"{loop}"
              f"        extend((head, {parts}))\n"
              f"    return b''.join(out)\n")
    scope = {"R": _RECURRING, "T": _text, "L": _LENGTH.pack, "I4": _INT4.pack, "I8": _INT8.pack,
             "F8": _FLOAT8.pack, "TRUE": _TRUE, "FALSE": _FALSE, "N": _NULL}
    exec(compile(source, f"<copy encoder {' '.join(types)}>", "exec"), scope)  # noqa: S102 - built from _EXPRESSIONS only
    return scope["encode"]


class CopyLayout:
    """The encoder of one table's rows (for a given column list)."""

    __slots__ = ("_count", "_encoders", "_types", "_tails")

    def __init__(self, types: Sequence[str]) -> None:
        self._count = struct.pack(">h", len(types))
        self._types = tuple(types)
        self._encoders = tuple(_ENCODERS[kind] for kind in types)
        # the compiled encoders of the columns after n leading ones, per (n, keys of mapping rows)
        self._tails: dict[tuple[int, tuple[str, ...] | None], Any] = {}

    def row(self, values: Sequence[Any]) -> bytes:
        return self.rows_after(b"", 0, (values,))

    def leading(self, values: Sequence[Any]) -> bytes:
        """The first `len(values)` columns encoded, for `rows_after` (layouts whose first columns
        have the same types share them: an index row's resource pk and type)."""
        if len(values) > len(self._encoders):
            raise ValueError(f"{len(values)} leading values for {len(self._encoders)} columns")
        return b"".join([_NULL if value is None else encode(value)
                         for encode, value in zip(self._encoders, values, strict=False)])

    def rows(self, leading: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
        """Rows whose first values are `leading` (a resource's index rows: its pk and type), those
        encoded once: what joining `row((*leading, *values))` for each of `rows` gives."""
        return self.rows_after(self.leading(leading), len(leading), rows)

    def rows_after(self, lead: bytes, leading: int, rows: Iterable[Any],
                   keys: Sequence[str] | None = None) -> bytes:
        """Rows after `leading` columns encoded as `lead` (`self.leading`): sequences of the other
        columns' values, or, with `keys`, mappings holding them under those keys."""
        named = tuple(keys) if keys is not None else None
        tail = self._tails.get((leading, named))
        if tail is None:
            tail = self._tails[(leading, named)] = self._tail(leading, named)
        try:
            return tail(self._count + lead, rows)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"rows of {len(self._encoders) - leading} values after {leading} leading "
                             f"ones, for {len(self._encoders)} columns: {exc}") from exc

    def _tail(self, leading: int, keys: tuple[str, ...] | None) -> Any:
        types = self._types[leading:]
        if keys is not None and len(keys) != len(types):
            raise ValueError(f"{len(keys)} keys for {len(types)} columns")
        if not types:
            return lambda head, rows: b"".join(head for _ in rows)
        return _compile_encoder(types, keys)


def copy_payload(rows: Sequence[bytes]) -> bytes:
    """A whole COPY stream: header, the encoded rows, trailer."""
    return b"".join((HEADER, *rows, TRAILER))
