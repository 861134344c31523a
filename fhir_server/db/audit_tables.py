"""The audit log: every AuditEvent as it is recorded, sealed like resource bodies, until the
background materializer has turned it into a searchable `AuditEvent` resource.

Appending a row is all an access costs (one multi-row INSERT per group of events); validating,
indexing and versioning happen later in bulk (`fhir_server.services.audit`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, LargeBinary, String, Table

from fhir_server.db.tables import PrimaryKey, metadata

__all__ = ["audit_log"]

audit_log = Table(
    "audit_log",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    # the id the AuditEvent resource gets; the body's associated data is `audit_log/<event_id>`
    Column("event_id", String(64), nullable=False),
    Column("recorded", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
)
