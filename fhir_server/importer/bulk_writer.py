"""Writing an import batch on PostgreSQL: the new resources by COPY, the rest through the service layer.

Most records of a load are resources that do not exist yet. Those are written as version 1 with one
COPY per table (`fhir_server.storage.bulk_load`): the same rows `ResourceService.write_many_in`
writes — resource, version, index rows, outbox — with the same access checks, the same AuditEvents
(appended in the same transaction) and the same change events. Everything else goes through
`write_records`, after them and in order: an id that exists already (a new version of it), an id seen
earlier in the batch, a record staged without reserved keys, and, for a principal whose access
depends on the content, every record (the policy reads the resource).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fhir_server.context import RequestContext
from fhir_server.errors import FhirError, operation_outcome
from fhir_server.importer.copy_rows import add_resource
from fhir_server.importer.staging import StagedRecord
from fhir_server.importer.writer import BatchOutcome, write_records
from fhir_server.services.access import Written
from fhir_server.services.ports import Change, announce
from fhir_server.services.resources import ResourceService
from fhir_server.storage.bulk_load import BulkLoad, BulkRows
from fhir_server.storage.repository import Tx

__all__ = ["BulkWriter", "Turn"]

CREATE = "create"
Turn = Callable[[], Awaitable[None]]


class BulkWriter:
    def __init__(self, resources: ResourceService) -> None:
        self.resources = resources
        self.load = BulkLoad(resources.store)

    async def reserve_pks(self, count: int, tx: Tx | None = None) -> list[int]:
        return await self.load.reserve_pks(count, tx)

    async def write(self, tx: Tx, ctx: RequestContext, records: Sequence[StagedRecord], *,
                    turn: Turn | None = None) -> BatchOutcome:
        """Write the staged (not rejected) records in `tx`; nothing commits here.

        `turn`, when given, is awaited once the new resources are copied and audited, before anything
        that reads or announces other resources (the subscribers, the service path): the loader waits
        there for the commit of the batch written before this one (`Importer`), so that the two
        batches' writes to new rows overlap and everything else sees the earlier batch committed."""
        staged = [record for record in records if record.staged is not None]
        keys = [(record.res_type or "", record.staged.res_id) for record in staged if record.staged is not None]
        seen = await self.load.existing(tx, keys)
        fresh: list[StagedRecord] = []
        rest: list[StagedRecord] = []
        for record, key in zip(staged, keys, strict=True):
            (rest if key in seen or not self._copyable(ctx, record) else fresh).append(record)
            seen.add(key)
        outcome = BatchOutcome()
        fresh = self._allowed(ctx, fresh, outcome)
        await self._copy(tx, ctx, fresh)
        outcome.created += len(fresh)
        if turn is not None:
            await turn()
        if fresh and self.resources.subscribers:
            changes = []
            for record in fresh:
                assert record.staged is not None and record.res_type is not None and record.pk is not None
                changes.append(Change(CREATE, record.res_type, record.staged.res_id, 1, record.staged.stored, record.pk,
                                      ctx))
            await announce(tx, self.resources.subscribers, changes)
        if rest:
            later = await write_records(self.resources, tx, ctx, rest)
            outcome.created += later.created
            outcome.updated += later.updated
            outcome.rejected.extend(later.rejected)
        return outcome

    def _copyable(self, ctx: RequestContext, record: StagedRecord) -> bool:
        if record.index_rows is None or record.pk is None or record.res_type is None:
            return False
        if ctx.principal.unrestricted:
            return True
        try:
            return not self.resources.access.content_matters(ctx, CREATE, record.res_type)
        except FhirError:
            return False  # refused: the service path says so for this record

    def _allowed(self, ctx: RequestContext, records: list[StagedRecord], outcome: BatchOutcome) -> list[StagedRecord]:
        """The records the access policy lets this principal create (as `write_many_in` asks it); the
        others are rejected with the refusal."""
        access = self.resources.access
        allowed = []
        for record in records:
            assert record.res_type is not None and record.staged is not None
            try:
                access.check_protected(ctx, CREATE, record.res_type, record.staged.res_id)
                access.check(ctx, CREATE, record.res_type, instance=True, res_id=record.staged.res_id)
            except FhirError as exc:
                outcome.rejected.append((record.number, operation_outcome(exc.issues)))
                continue
            allowed.append(record)
        return allowed

    async def _copy(self, tx: Tx, ctx: RequestContext, records: list[StagedRecord]) -> None:
        if not records:
            return
        rows = BulkRows()
        written = []
        for record in records:
            staged = record.staged
            assert staged is not None and record.res_type is not None and record.pk is not None
            assert record.index_rows is not None
            add_resource(rows, self.resources.store, pk=record.pk, res_type=record.res_type, res_id=staged.res_id,
                         last_updated=staged.last_updated, body=staged.body, method="PUT" if record.put else "POST",
                         index_rows=record.index_rows)
            # the audit names a PUT an update, as `write_many_in` does
            written.append(Written("update" if record.put else CREATE, record.res_type, staged.res_id, 1, staged.body))
        await self.load.copy(tx, rows)
        await self.resources.access.record_writes(tx, ctx, written)

