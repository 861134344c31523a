"""The `bulk_exports` table (created by migration 0005): one row per `$export` request.

`state` holds the committed progress as JSON (see `progress.ExportState`); `slice` counts the
committed slices, so a slice that lost its job lease to another worker cannot commit over it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from fhir_server.db.tables import metadata

__all__ = ["bulk_exports"]

bulk_exports = Table(
    "bulk_exports",
    metadata,
    Column("id", String(64), primary_key=True),
    # in-progress | complete | failed | cancelled
    Column("status", String(16), nullable=False),
    # who asked (the access hook's owner key: the client id, else the subject)
    Column("owner", String(255), nullable=False),
    Column("request", Text, nullable=False),
    Column("parameters", Text, nullable=False),
    Column("transaction_time", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Column("slice", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Index(None, "owner"),
)
