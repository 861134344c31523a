"""What the gateway needs from durable storage: the inbox of received messages.

The database implementation comes with the integration (the `hl7_inbox` table of DESIGN.md); this
module only states the contract, which `hl7_gateway.gateway` relies on for exactly-once filing:

* `store` commits the raw bytes with sender, MSH-10 and received time and returns an id - it must
  be durable when it returns, because an ACK may follow immediately;
* `find_original` finds an earlier delivery of the same message (same MSH-3, MSH-4 and MSH-10),
  so a retransmission is answered with the original outcome instead of being filed twice;
* `record_outcome` records processed / rejected / failed (with the errors) or duplicate;
  `record_outcome_in` does it inside the transaction that files the message's resources (the one
  `FileBundle` hands to its `settle`), so the resources and the outcome commit together or not at
  all, and refuses (`AlreadySettled`) when another delivery or process filed the message meanwhile;
* `unfinished` lists what was stored but never finished (a crash between inbox and FHIR commit,
  or a failure worth retrying), oldest first, for `Gateway.recover()` and the periodic retry;
* `list` and `show` serve operators.

Statuses: received → processed (AA) | rejected (AE/AR for the message itself; final) | failed
(the FHIR service or storage failed; retried) | duplicate (a retransmission, or an original
superseded by one; final, carries the outcome it was answered with).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from hl7_gateway.errors import AckCode, ErrorLocation, HL7Error, Severity

__all__ = ["InboxStatus", "FINAL_STATUSES", "FILED_STATUSES", "UNFINISHED_STATUSES", "InboundMessage", "ErrorRecord",
           "Outcome", "InboxEntry", "Inbox", "AlreadySettled"]

InboxStatus = Literal["received", "processed", "rejected", "failed", "duplicate"]
FINAL_STATUSES: frozenset[str] = frozenset({"processed", "rejected", "duplicate"})
# a message in one of these must not be filed again (a replay after a mapping fix may refile it)
FILED_STATUSES: frozenset[str] = frozenset({"processed", "duplicate"})
UNFINISHED_STATUSES: tuple[InboxStatus, ...] = ("received", "failed")


class AlreadySettled(Exception):
    """The entry was filed, or closed as a duplicate, by another delivery or process meanwhile."""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as received: the bytes and what identifies it."""

    raw: bytes
    sending_application: str
    sending_facility: str
    control_id: str | None
    received_at: datetime
    peer: str
    message_type: str = ""


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """An `HL7Error` in storable form (and back, to acknowledge a retransmission alike)."""

    code: int
    diagnostics: str
    ack_code: AckCode = "AE"
    location: ErrorLocation | None = None
    severity: Severity = "E"

    @classmethod
    def from_error(cls, error: HL7Error) -> ErrorRecord:
        return cls(error.code, error.diagnostics, error.ack_code, error.location, error.severity)

    def to_error(self) -> HL7Error:
        error = HL7Error(self.diagnostics, code=self.code, location=self.location, severity=self.severity)
        error.ack_code = self.ack_code
        return error


@dataclass(frozen=True, slots=True)
class Outcome:
    """How processing ended: the application acknowledgment code, its errors, and what was filed."""

    status: InboxStatus
    ack_code: str
    errors: tuple[ErrorRecord, ...] = ()
    filed: Any = None
    duplicate_of: str | None = None

    @property
    def retryable(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True, slots=True)
class InboxEntry:
    id: str
    message: InboundMessage
    status: InboxStatus = "received"
    outcome: Outcome | None = None
    attempts: int = 0
    history: tuple[Outcome, ...] = field(default=())
    updated_at: datetime | None = None
    """When its status last changed (for a failed entry: when the last attempt ended)."""


class Inbox(Protocol):
    """Durable storage of received messages; implemented over the database by the integration."""

    async def store(self, message: InboundMessage) -> str:
        """Commit the message (status received) and return its id; raise if it cannot be committed."""
        ...

    async def find_original(self, *, sending_application: str, sending_facility: str, control_id: str,
                            before: str) -> InboxEntry | None:
        """The earliest entry stored before `before` with this sender and MSH-10, if any."""
        ...

    async def record_outcome(self, entry_id: str, outcome: Outcome) -> None:
        """Set the entry's status and outcome (and count an attempt); committed when it returns."""
        ...

    async def record_outcome_in(self, tx: Any, entry_id: str, outcome: Outcome, *, refile: bool = False) -> None:
        """As `record_outcome`, inside the filing transaction `tx`: it commits with the resources. Unless
        `refile`, raise `AlreadySettled` if the entry's status is processed or duplicate already."""
        ...

    async def unfinished(self, *, limit: int = 100, statuses: tuple[InboxStatus, ...] = UNFINISHED_STATUSES,
                         max_attempts: int | None = None) -> list[InboxEntry]:
        """Entries with one of `statuses` (received or failed), oldest first; with `max_attempts`,
        only those tried fewer times than that."""
        ...

    async def list(self, *, status: InboxStatus | None = None, limit: int = 50,
                   before: str | None = None) -> list[InboxEntry]:
        """Newest first, optionally of one status, paging by id."""
        ...

    async def show(self, entry_id: str) -> InboxEntry | None:
        ...
