"""Rows encoded for PostgreSQL's binary COPY arrive as they were: every type the store uses, NULLs,
non-ASCII text, extreme numbers."""

from __future__ import annotations

import io

import asyncpg
import pytest

from fhir_server.storage.copy_binary import CopyLayout, copy_payload

TYPES = ("int8", "int4", "float8", "bool", "text", "bytea")
ROWS = [
    (1, 2, 1.5, True, "plain", b"\x00\x01"),
    (-(2**63), -(2**31), -1e300, False, "ünïcödé ✓ \t tab \\ back\nslash", b""),
    (2**63 - 1, 2**31 - 1, 0.0, True, "", bytes(range(256))),
    (None, None, None, None, None, None),
]


async def test_rows_round_trip_through_copy(settings, backend):
    if backend == "sqlite":
        pytest.skip("binary COPY is PostgreSQL's")
    conn = await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("CREATE TEMP TABLE copied (a int8, b int4, c float8, d bool, e text, f bytea)")
        layout = CopyLayout(TYPES)
        payload = copy_payload([layout.row(row) for row in ROWS])
        await conn.copy_to_table("copied", source=io.BytesIO(payload), columns=list("abcdef"), format="binary")
        assert [tuple(row) for row in await conn.fetch("SELECT a, b, c, d, e, f FROM copied")] == ROWS
    finally:
        await conn.close()


def test_a_row_must_fill_the_layout():
    with pytest.raises(ValueError):
        CopyLayout(TYPES).row((1, 2))


def test_rows_sharing_leading_values_encode_as_whole_rows():
    layout = CopyLayout(TYPES)
    tails = [row[2:] for row in ROWS]
    assert layout.rows((7, 8), tails) == b"".join(layout.row((7, 8, *tail)) for tail in tails)
    assert layout.rows((None, 8), tails[:1]) == layout.row((None, 8, *tails[0]))
    with pytest.raises(ValueError):
        layout.rows((7, 8), [(1.5, True)])


def test_mapping_rows_encode_as_their_values_in_column_order():
    """Index rows as the indexer gives them (dicts, a missing key for a NULL column) encode as the same
    rows as tuples do, after a lead encoded once for layouts starting with the same types."""
    layout = CopyLayout(TYPES)
    keys = ("c", "d", "e", "f")
    mappings = [dict(zip(keys, row[2:], strict=True)) for row in ROWS[:3]] + [{"e": "only e"}]
    tuples = [row[2:] for row in ROWS[:3]] + [(None, None, "only e", None)]
    lead = layout.leading((7, 8))
    assert lead == CopyLayout(("int8", "int4")).leading((7, 8))
    assert layout.rows_after(lead, 2, mappings, keys) == layout.rows((7, 8), tuples)
    assert layout.rows_after(lead, 2, []) == b""
    with pytest.raises(ValueError):
        layout.rows_after(lead, 2, mappings, keys[:3])
    with pytest.raises(ValueError):
        layout.leading(range(7))


def test_recurring_texts_encode_as_fresh_ones(monkeypatch):
    from fhir_server.storage import copy_binary

    monkeypatch.setattr(copy_binary, "_RECURRING", {})
    monkeypatch.setattr(copy_binary, "_RECURRING_MAX", 2)
    layout = CopyLayout(("text", "text"))
    texts = ["code", "combo-code", "http://loinc.org", "code", "ünï", "x" * 100, "code", 7]
    for first, second in zip(texts, texts[1:], strict=False):
        expected = b"\x00\x02" + b"".join(
            len(str(t).encode()).to_bytes(4, "big") + str(t).encode() for t in (first, second))
        assert layout.row((first, second)) == expected
    assert len(copy_binary._RECURRING) <= 2
