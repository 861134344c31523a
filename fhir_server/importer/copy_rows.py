"""A staged import record as the COPY rows of a new resource (version 1): what `BatchStore.write`
would insert for it, encoded for PostgreSQL's binary COPY (`fhir_server.storage.bulk_load`).

The index rows — most of the bytes — are encoded in the staging worker (`encode_index`), with the
primary key reserved for the record; the writer adds the three rows that need the sealed body or
only the writer knows (`add_resource`).
"""

from __future__ import annotations

from collections.abc import Mapping

from fhir_server.storage.batch import IndexRows
from fhir_server.storage.bulk_load import (
    INDEX_COLUMNS,
    INDEX_ROWS,
    OUTBOX_ROW,
    RESOURCE_ROW,
    VERSION_ROW,
    BulkRows,
)
from fhir_server.storage.repository import ResourceStore

__all__ = ["encode_index", "add_resource"]


def encode_index(res_type: str, pk: int, index: IndexRows) -> dict[str, bytes]:
    """The index rows of one resource (as the indexer gives them, or `batch.index_tuples`), per kind,
    encoded with its pk."""
    encoded = {}
    lead = None  # every index table starts with (resource_pk, res_type): encoded once
    for kind, rows in index.items():
        if not rows:
            continue
        layout = INDEX_ROWS[kind]
        if lead is None:
            lead = layout.leading((pk, res_type))
        # a kind's rows all come as dicts (the indexer's) or all as tuples (`batch.index_tuples`)
        encoded[kind] = layout.rows_after(lead, 2, rows, None if type(rows[0]) is tuple else INDEX_COLUMNS[kind])
    return encoded


def add_resource(rows: BulkRows, store: ResourceStore, *, pk: int, res_type: str, res_id: str, last_updated: int,
                 body: bytes, method: str, index_rows: Mapping[str, bytes]) -> None:
    """Add version 1 of a new resource to `rows`: its `resources`, `resource_versions` and `outbox`
    rows (the body sealed as `ResourceStore` seals it) and its encoded index rows."""
    sealed = store.seal(res_type, res_id, 1, body)
    rows.resources.append(RESOURCE_ROW.row((pk, res_type, res_id, 1, last_updated, False, sealed)))
    rows.versions.append(VERSION_ROW.row((pk, res_type, res_id, 1, last_updated, False, method, sealed)))
    rows.outbox.append(OUTBOX_ROW.row((last_updated, res_type, res_id, 1, "create")))
    for kind, encoded in index_rows.items():
        rows.index[kind].append(encoded)
