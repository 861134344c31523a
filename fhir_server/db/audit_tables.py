"""The audit log: every AuditEvent as it is recorded, sealed like resource bodies, until the
background materializer has turned it into a searchable `AuditEvent` resource.

An access costs a share of one row (a row holds a group of events, one INSERT); validating,
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
    # the row's id: its body's associated data is `audit_log/<event_id>`, its events' AuditEvent ids
    # are `<event_id>.<n>` (a row of an earlier release holds one event, whose id is `event_id`)
    Column("event_id", String(64), nullable=False),
    Column("recorded", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
)
