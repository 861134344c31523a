"""The gateway: frame in → parse → inbox → (dedupe) → map → file the Bundle → ACK.

`Gateway.handle(raw, peer)` is the MLLP server's handler. Its collaborators are injected: an `Inbox`
(durable storage) and `file_bundle(bundle, settle) -> filed`, the FHIR transaction service, which
awaits `settle(tx, filed)` inside its transaction before the commit (`hl7_gateway.filing`).

Exactly-once rules
------------------
1. Commit before acknowledging. Every message - good, bad or unreadable - is committed to the inbox
   before any ACK leaves. If the inbox cannot commit, the answer is AR (CE in enhanced mode) with
   code 207 and nothing is processed: the sender keeps the message and resends it.
2. Retransmissions are answered, not refiled. A message whose sender (MSH-3, MSH-4) and MSH-10 match
   an earlier entry with a final outcome (processed, rejected, duplicate) is recorded as a duplicate
   and acknowledged with that original outcome. Same sender and MSH-10 but different bytes is a
   reused control ID: AE with code 205, nothing filed.
3. Filed and recorded together. A filed message's outcome (and the closing of an earlier unfinished
   delivery it supersedes) is recorded inside the transaction that writes its resources: both
   commit or neither, so a crash cannot leave a filed message looking unfinished. That transaction
   also refuses to commit if the entry was filed meanwhile (`AlreadySettled`: another delivery, a
   retry, another gateway process). Other outcomes (rejected, failed) file nothing and are recorded
   afterwards; a crash before that leaves the entry `received`, to be processed again.
4. Unfinished work is finished once. An earlier delivery that never finished (crash, or a failure of
   the FHIR service) does not block its retransmission: the new delivery is processed and the old
   entry is closed as its duplicate. On restart `recover()` processes every entry still `received`
   or `failed`, once, oldest first - this covers a crash between the inbox commit and the FHIR
   commit. While running, `hl7_gateway.retry` tries `failed` entries (and `received` ones left
   behind, not in this process's hands) again with backoff, a bounded number of times, through
   `recover()`; content errors (AE) are final and never retried.
5. Order per sender. Messages from one sender are processed one at a time, in arrival order, so a
   correction cannot overtake the result it corrects; different senders proceed in parallel. With
   several listener processes (`fhir-server mllp --workers`) this holds per connection, which is the
   order an MLLP sender keeps: it waits for each ACK before sending the next message.

Outcomes: AA after the Bundle is filed (with ERR severity W for fields dropped); AE when the content is
wrong or the FHIR service refuses it (400/404/412/422); AR when the message cannot be read, is not
supported, or the service failed for reasons unrelated to content (the sender should resend; the
entry stays `failed` and is retried). In enhanced mode (MSH-15/16) a filed message is answered CA and
one that could not be committed or filed CE; a rejected one gets its AE/AR at once (see `_accept_ack`). The
application ACK that MSH-16 asks for is also built and returned in `Delivery.application_ack` for the
outbound channel the integration will add.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from fhir_server.errors import FhirError
from hl7_gateway.ack import batch_ack, build_ack
from hl7_gateway.batch import split_frame
from hl7_gateway.errors import ApplicationError, BatchError, ContentError, HL7Error, MappingError
from hl7_gateway.inbox import (
    FINAL_STATUSES,
    UNFINISHED_STATUSES,
    AlreadySettled,
    ErrorRecord,
    InboundMessage,
    Inbox,
    InboxEntry,
    InboxStatus,
    Outcome,
)
from hl7_gateway.mapping import MappingOptions, map_message
from hl7_gateway.message import Header, Message
from hl7_gateway.parse import parse_message, peek_header
from resources import validate

__all__ = ["FileBundle", "Settle", "Delivery", "Gateway"]

Settle = Callable[[Any, Any], Awaitable[None]]
"""`settle(tx, filed)`: awaited by `file_bundle` inside its transaction, after the writes, before the commit."""
FileBundle = Callable[[dict[str, Any], Settle], Awaitable[Any]]
log = logging.getLogger(__name__)
_CONTENT_STATUSES = {400, 404, 410, 412, 422}
SLOW_SECONDS = 5.0
"""A message held longer than this after its inbox commit is logged as it passes the bound (with
the coroutines its delivery waits in) and again when its ACK goes: a sender's timeout is often
30 s, after which it resends."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message's passage through the gateway."""

    entry_id: str | None
    outcome: Outcome
    ack: bytes
    """What goes back on the connection (b'' when MSH-15 asks for no accept acknowledgment)."""
    application_ack: bytes | None = None
    """Enhanced mode: the MSH-16 application acknowledgment, for the outbound channel."""


class Gateway:
    def __init__(self, *, inbox: Inbox, file_bundle: FileBundle, options: MappingOptions | None = None,
                 clock: Callable[[], datetime] | None = None, validate_bundles: bool = True) -> None:
        self.inbox = inbox
        self.file_bundle = file_bundle
        self.options = options or MappingOptions()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._validate = validate_bundles
        self._locks: dict[str, asyncio.Lock] = {}
        # entries stored and not yet finished by this process: not for `recover` to take
        self._in_flight: set[str] = set()

    async def handle(self, raw: bytes, peer: str) -> bytes:
        """MLLP handler: one frame in, the bytes to send back out. Never raises."""
        try:
            deliveries, frame_ack = await self.receive(raw, peer)
        except Exception:  # noqa: BLE001 - the listener must keep serving; the sender gets a best-effort AR
            log.exception("HL7 gateway: unexpected failure handling a frame from %s", peer)
            return build_ack(peek_header(raw), "AR", [ApplicationError("internal error")])
        return frame_ack if frame_ack is not None else (deliveries[0].ack if deliveries else b"")

    async def receive(self, raw: bytes, peer: str) -> tuple[list[Delivery], bytes | None]:
        """Process a frame: its deliveries and, for a batch, the batch acknowledgment."""
        received_at = self._clock()
        try:
            frame = split_frame(raw)
        except BatchError as error:
            header = peek_header(_first_msh(raw))
            delivery = await self._reject_unread(raw, peer, received_at, header, error)
            return [delivery], None
        deliveries = [await self.deliver(message, peer, received_at) for message in frame.messages]
        if not frame.is_batch:
            return deliveries, None
        return deliveries, batch_ack([d.ack for d in deliveries], batch_header=frame.batch_header,
                                     file_header=frame.file_header, now=received_at)

    async def deliver(self, raw: bytes, peer: str, received_at: datetime | None = None) -> Delivery:
        """One message: store, parse, deduplicate, map, file, acknowledge."""
        received_at = received_at or self._clock()
        header = peek_header(raw)
        inbound = InboundMessage(raw, header.sending_application if header else "",
                                 header.sending_facility if header else "", (header.control_id or None) if header else None,
                                 received_at, peer, header.kind if header else "")
        try:
            entry_id = await self.inbox.store(inbound)
        except Exception as exc:  # noqa: BLE001 - any storage failure means: not committed, resend
            log.warning("HL7 gateway: inbox could not store a message from %s: %s", peer, exc)
            error = ApplicationError(f"the message could not be stored: {exc}")
            outcome = Outcome("failed", "AR", (ErrorRecord.from_error(error),))
            return Delivery(None, outcome, self._accept_ack(header, outcome, [error]))
        self._in_flight.add(entry_id)
        started = time.monotonic()
        held = asyncio.get_running_loop().call_later(SLOW_SECONDS, _log_held, asyncio.current_task(), entry_id,
                                                     inbound)
        try:
            return await self._deliver_stored(entry_id, raw, header, received_at)
        finally:
            held.cancel()
            self._in_flight.discard(entry_id)
            if (elapsed := time.monotonic() - started) > SLOW_SECONDS:
                log.warning("HL7 gateway: inbox entry %s (%s, MSH-10 %s) took %.1f s from its inbox commit to its "
                            "ACK", entry_id, inbound.message_type or "unknown type", inbound.control_id, elapsed)

    async def _deliver_stored(self, entry_id: str, raw: bytes, header: Header | None,
                              received_at: datetime) -> Delivery:
        try:
            message = parse_message(raw)
        except HL7Error as error:
            outcome = Outcome("rejected", error.ack_code, (ErrorRecord.from_error(error),))
            await self._record(entry_id, outcome)
            return Delivery(entry_id, outcome, self._accept_ack(header, outcome, [error]))
        lock = self._locks.setdefault(message.header.sender, asyncio.Lock())
        async with lock:
            outcome = await self._deduplicated(entry_id, message, received_at)
        errors = [record.to_error() for record in outcome.errors]
        application_ack = None
        if message.header.enhanced_mode and _wants_application_ack(message.header, outcome.ack_code):
            application_ack = build_ack(message.header, outcome.ack_code, errors, now=self._clock())
        return Delivery(entry_id, outcome, self._accept_ack(message.header, outcome, errors), application_ack)

    async def _deduplicated(self, entry_id: str, message: Message, received_at: datetime) -> Outcome:
        header = message.header
        original = await self.inbox.find_original(sending_application=header.sending_application,
                                                  sending_facility=header.sending_facility,
                                                  control_id=header.control_id, before=entry_id)
        if original is not None and original.outcome is not None and original.status in FINAL_STATUSES:
            if original.message.raw.strip() != message.raw.strip():
                error = ContentError(f"message control ID {header.control_id!r} was already used by entry "
                                     f"{original.id} for a different message", code=205,
                                     location=message.segments[0].location(10, 1))
                outcome = Outcome("rejected", "AE", (ErrorRecord.from_error(error),))
            else:
                outcome = replace(original.outcome, status="duplicate", filed=None, duplicate_of=original.id)
            await self._record(entry_id, outcome)
            return outcome
        return await self.process(message, entry_id, received_at,
                                  closes=original.id if original is not None else None)

    async def process(self, message: Message, entry_id: str | None, received_at: datetime, *,
                      closes: str | None = None, refile: bool = False) -> Outcome:
        """Map, file and record one parsed message; every failure becomes an Outcome, nothing raises.

        `closes`: an unfinished earlier delivery of the same message, recorded as this one's duplicate.
        `refile`: file it even if the entry was filed already (an operator's replay after a mapping fix).
        """
        try:
            result = map_message(message, options=self.options, received_at=received_at, inbox_id=entry_id)
            if self._validate:
                _validate(result.bundle)
        except HL7Error as error:
            outcome = Outcome("rejected", error.ack_code, (ErrorRecord.from_error(error),))
        else:
            warnings = tuple(ErrorRecord.from_error(w) for w in result.warnings)

            async def settle(tx: Any, filed: Any) -> None:
                if entry_id is None:
                    return
                processed = Outcome("processed", "AA", warnings, filed=filed)
                await self.inbox.record_outcome_in(tx, entry_id, processed, refile=refile)
                if closes is not None:
                    await self.inbox.record_outcome_in(tx, closes, _duplicate(processed, entry_id), refile=True)

            try:
                filed = await self.file_bundle(result.bundle, settle)
            except AlreadySettled:
                settled = await self.inbox.show(entry_id) if entry_id is not None else None
                log.info("HL7 gateway: entry %s was filed meanwhile; not filed again", entry_id)
                if settled is not None and settled.outcome is not None:
                    return settled.outcome
                return Outcome("processed", "AA", warnings)
            except Exception as exc:  # noqa: BLE001 - nothing was filed or recorded: the transaction rolled back
                outcome = _filing_failure(exc, entry_id)
            else:
                return Outcome("processed", "AA", warnings, filed=filed)
        if entry_id is not None:
            await self._record(entry_id, outcome)
            if closes is not None:
                await self._record(closes, _duplicate(outcome, entry_id))
        return outcome

    async def recover(self, *, limit: int = 1000, statuses: tuple[InboxStatus, ...] = UNFINISHED_STATUSES,
                      max_attempts: int | None = None, due: Callable[[InboxEntry], bool] | None = None) -> int:
        """Process, once each, the entries a crash or a failure left unfinished (those of `statuses`,
        tried fewer than `max_attempts` times, for which `due(entry)`); returns how many."""
        count = 0
        for entry in await self.inbox.unfinished(limit=limit, statuses=statuses, max_attempts=max_attempts):
            if entry.id in self._in_flight or (due is not None and not due(entry)):
                continue
            try:
                message = parse_message(entry.message.raw)
            except HL7Error as error:
                await self._record(entry.id, Outcome("rejected", error.ack_code, (ErrorRecord.from_error(error),)))
                count += 1
                continue
            async with self._locks.setdefault(message.header.sender, asyncio.Lock()):
                # a retransmission may have finished it while this waited for the sender's turn
                current = await self.inbox.show(entry.id)
                if current is None or current.status not in statuses or entry.id in self._in_flight:
                    continue
                await self.process(message, entry.id, entry.message.received_at)
            count += 1
        return count

    def oversize_reply(self, head: bytes) -> bytes:
        """AR for a frame over the MLLP size cap (the MLLP server calls this with the frame's first bytes)."""
        error = ApplicationError("the message is larger than this gateway accepts", code=207)
        error.ack_code = "AR"
        return build_ack(peek_header(head), "AR", [error])

    async def _reject_unread(self, raw: bytes, peer: str, received_at: datetime, header: Header | None,
                             error: HL7Error) -> Delivery:
        inbound = InboundMessage(raw, header.sending_application if header else "",
                                 header.sending_facility if header else "", None, received_at, peer, "batch")
        outcome = Outcome("rejected", error.ack_code, (ErrorRecord.from_error(error),))
        try:
            entry_id: str | None = await self.inbox.store(inbound)
        except Exception as exc:  # noqa: BLE001
            error = ApplicationError(f"the message could not be stored: {exc}")
            outcome = Outcome("failed", "AR", (ErrorRecord.from_error(error),))
            entry_id = None
        if entry_id is not None:
            await self._record(entry_id, outcome)
        return Delivery(entry_id, outcome, build_ack(header, "AR", [error], now=received_at))

    async def _record(self, entry_id: str, outcome: Outcome) -> None:
        try:
            await self.inbox.record_outcome(entry_id, outcome)
        except Exception:  # noqa: BLE001 - the entry stays unfinished and recover() redoes it (idempotently)
            log.exception("HL7 gateway: could not record the outcome of inbox entry %s", entry_id)

    def _accept_ack(self, header: Header | None, outcome: Outcome, errors: list[HL7Error]) -> bytes:
        """Original mode: the application ACK. Enhanced mode: CA once filed (or a duplicate of a filed
        message), CE when the message could not be committed; any other outcome is answered at once
        with its application ACK (AE/AR), since a rejection must reach a sender that only listens on
        this connection. MLLP needs a reply to every frame, so MSH-15 NE/ER/SU do not silence it."""
        if header is None or not header.enhanced_mode:
            return build_ack(header, outcome.ack_code, errors, now=self._clock())
        if outcome.ack_code == "AA":
            return build_ack(header, "CA", [e for e in errors if e.severity != "E"], now=self._clock())
        if outcome.status == "failed" and not any(e.code != 207 for e in errors):
            return build_ack(header, "CE", errors, now=self._clock())
        return build_ack(header, outcome.ack_code, errors, now=self._clock())


def _log_held(task: asyncio.Task[Any] | None, entry_id: str, inbound: InboundMessage) -> None:
    """Said while a message is still held past `SLOW_SECONDS`, with where its delivery waits: a stall
    shows in the log as it happens, not only once (and if) it ends."""
    log.warning("HL7 gateway: inbox entry %s (%s, MSH-10 %s) is still unacknowledged %g s after its inbox commit; "
                "waiting in %s", entry_id, inbound.message_type or "unknown type", inbound.control_id, SLOW_SECONDS,
                _awaiting(task))


def _awaiting(task: asyncio.Task[Any] | None) -> str:
    """The chain of coroutines a task is suspended in, outermost first (`function:line > ...`)."""
    links = []
    awaited: Any = task.get_coro() if task is not None else None
    while awaited is not None and len(links) < 64:
        # a coroutine, an async generator or a generator-based coroutine: its frame, and what it awaits
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            links.append(type(awaited).__name__)  # a future or a C-level awaitable: the chain ends here
            break
        links.append(f"{frame.f_code.co_qualname}:{frame.f_lineno}")
        awaited = (getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
                   or getattr(awaited, "gi_yieldfrom", None))
    return " > ".join(links) or "nothing (not running in a task)"


def _wants_application_ack(header: Header, ack_code: str) -> bool:
    condition = header.application_ack_type.upper() or "AL"
    if condition == "NE":
        return False
    if condition == "ER":
        return ack_code != "AA"
    if condition == "SU":
        return ack_code == "AA"
    return True


def _duplicate(outcome: Outcome, of: str) -> Outcome:
    return replace(outcome, status="duplicate", filed=None, duplicate_of=of)


def _filing_failure(exc: Exception, entry_id: str | None) -> Outcome:
    """AE when the FHIR service refused the content (final); AR when it failed (the entry is retried)."""
    if isinstance(exc, FhirError):
        if exc.status in _CONTENT_STATUSES:
            refused = ContentError(f"the FHIR server refused the message's resources: {exc.diagnostics}",
                                   code=205 if exc.status == 412 else 207)
            return Outcome("rejected", "AE", (ErrorRecord.from_error(refused),))
        failure = ApplicationError(f"the FHIR server failed ({exc.status}): {exc.diagnostics}")
        return Outcome("failed", "AR", (ErrorRecord.from_error(failure),))
    log.warning("HL7 gateway: filing entry %s failed: %r", entry_id, exc)
    failure = ApplicationError(f"filing failed: {type(exc).__name__}: {exc}")
    return Outcome("failed", "AR", (ErrorRecord.from_error(failure),))


def _first_msh(raw: bytes) -> bytes:
    at = raw.find(b"MSH")
    return raw[at:] if at >= 0 else raw


def _validate(bundle: dict[str, Any]) -> None:
    issues = validate(bundle)
    if issues:
        first = issues[0]
        raise MappingError(f"the mapped Bundle is not valid R4 at {first.expression}: {first.diagnostics}"
                           + (f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""), code=207)

