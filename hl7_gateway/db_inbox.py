"""The gateway's `Inbox` over the server's durable inbox store (`fhir_server.storage.inbox`).

Outcomes are kept as JSON beside the sealed raw bytes; ids are the store's row ids as text.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson

from fhir_server.storage.inbox import InboxRecord, InboxStore
from hl7_gateway.errors import ErrorLocation
from hl7_gateway.inbox import (
    FILED_STATUSES,
    UNFINISHED_STATUSES,
    AlreadySettled,
    ErrorRecord,
    InboundMessage,
    InboxEntry,
    InboxStatus,
    Outcome,
)

__all__ = ["DatabaseInbox", "CHANNEL"]

CHANNEL = "hl7v2"
SENDER_SEPARATOR = "|"


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def _sender(application: str, facility: str) -> str:
    return f"{application}{SENDER_SEPARATOR}{facility}"


def _outcome_json(outcome: Outcome) -> str:
    errors = [
        {"code": e.code, "diagnostics": e.diagnostics, "ack_code": e.ack_code, "severity": e.severity,
         "location": dataclasses.asdict(e.location) if e.location else None}
        for e in outcome.errors
    ]
    document = {"status": outcome.status, "ack_code": outcome.ack_code, "errors": errors,
                "duplicate_of": outcome.duplicate_of, "filed": outcome.filed}
    return orjson.dumps(document, default=str).decode()


def _outcome(text: str | None) -> Outcome | None:
    if not text:
        return None
    document: dict[str, Any] = orjson.loads(text)
    errors = tuple(
        ErrorRecord(e["code"], e["diagnostics"], e["ack_code"],
                    ErrorLocation(**e["location"]) if e.get("location") else None, e["severity"])
        for e in document["errors"]
    )
    return Outcome(document["status"], document["ack_code"], errors, document.get("filed"),
                   document.get("duplicate_of"))


class DatabaseInbox:
    def __init__(self, records: InboxStore) -> None:
        self.records = records

    async def store(self, message: InboundMessage) -> str:
        pk = await self.records.add(
            channel=CHANNEL, received_at=_micros(message.received_at),
            sender=_sender(message.sending_application, message.sending_facility),
            control_id=message.control_id, peer=message.peer, message_type=message.message_type, raw=message.raw)
        return str(pk)

    async def find_original(self, *, sending_application: str, sending_facility: str, control_id: str,
                            before: str) -> InboxEntry | None:
        record = await self.records.find(channel=CHANNEL, sender=_sender(sending_application, sending_facility),
                                       control_id=control_id, before=int(before))
        return None if record is None else self._entry(record)

    async def record_outcome(self, entry_id: str, outcome: Outcome) -> None:
        await self.records.record(int(entry_id), status=outcome.status, outcome=_outcome_json(outcome))

    async def record_outcome_in(self, tx: Any, entry_id: str, outcome: Outcome, *, refile: bool = False) -> None:
        recorded = await self.records.record_in(tx, int(entry_id), status=outcome.status,
                                                outcome=_outcome_json(outcome),
                                                unless=() if refile else FILED_STATUSES)
        if not recorded:
            raise AlreadySettled(f"inbox entry {entry_id} was filed already")

    async def unfinished(self, *, limit: int = 100, statuses: tuple[InboxStatus, ...] = UNFINISHED_STATUSES,
                         max_attempts: int | None = None) -> list[InboxEntry]:
        records = await self.records.unfinished(channel=CHANNEL, limit=limit, statuses=statuses,
                                                max_attempts=max_attempts)
        return [self._entry(r) for r in records]

    async def list(self, *, status: InboxStatus | None = None, limit: int = 50,
                   before: str | None = None) -> list[InboxEntry]:
        records = await self.records.list(channel=CHANNEL, status=status, limit=limit,
                                        before=int(before) if before is not None else None)
        return [self._entry(r) for r in records]

    async def show(self, entry_id: str) -> InboxEntry | None:
        if not entry_id.isdigit():
            return None
        record = await self.records.get(int(entry_id))
        return None if record is None or record.channel != CHANNEL else self._entry(record)

    @staticmethod
    def _entry(record: InboxRecord) -> InboxEntry:
        application, _, facility = record.sender.partition(SENDER_SEPARATOR)
        message = InboundMessage(record.raw, application, facility, record.control_id, _moment(record.received_at),
                                 record.peer, record.message_type)
        return InboxEntry(str(record.pk), message, record.status, _outcome(record.outcome),  # type: ignore[arg-type]
                          record.attempts, updated_at=_moment(record.updated_at))
