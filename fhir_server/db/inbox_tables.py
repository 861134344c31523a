"""The inbox of messages received from outside systems (HL7 v2 over MLLP today), stored before any
acknowledgement: raw bytes sealed like resource bodies, who sent it, and how processing ended."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from fhir_server.db.tables import PrimaryKey, metadata

__all__ = ["inbox_messages"]

inbox_messages = Table(
    "inbox_messages",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    # the door the message came through, e.g. "hl7v2"
    Column("channel", String(32), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    # sending application and facility (MSH-3, MSH-4) and the sender's message id (MSH-10)
    Column("sender", String(512), nullable=False),
    Column("control_id", String(255), nullable=True),
    Column("peer", String(255), nullable=False),
    Column("message_type", String(64), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    # received | processed | rejected | failed | duplicate
    Column("status", String(16), nullable=False),
    Column("outcome", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index(None, "channel", "sender", "control_id"),
    Index(None, "channel", "status", "pk"),
)
