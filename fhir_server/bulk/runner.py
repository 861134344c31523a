"""Running an export: a chain of jobs, each one slice in its job's transaction.

A slice loads the export's committed state, scans on from its cursor in bounded batches (`storage/
scan.py`, the versions current at transactionTime), turns each resource into an NDJSON line
(`transform.py`) and appends the lines to the type's file (a new file past `max_file_bytes`), until
it has run `slice_seconds` or written `slice_bytes`. It then fsyncs the files and, in the job's
transaction, stores the new state and enqueues the next slice (or marks the export complete and
schedules its cleanup). A worker that dies mid-slice leaves the state of the last commit; the job
is claimed again after its lease and the slice redone from there, cutting the files back first.

The cleanup job deletes an export's files and row once it has expired or was cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from fhir_server.bulk.access import ExportAudit
from fhir_server.bulk.config import BulkConfig
from fhir_server.bulk.deidentify import Deidentifier
from fhir_server.bulk.files import ExportFiles, SliceFiles
from fhir_server.bulk.plan import ExportPlanner, TypePlan
from fhir_server.bulk.progress import DELETED, ERROR, OUTPUT, ExportState
from fhir_server.bulk.records import CANCELLED, IN_PROGRESS, ExportRecord, ExportRecords
from fhir_server.bulk.transform import OutputTransform
from fhir_server.errors import FhirError, Issue, operation_outcome
from fhir_server.jobs import Job, JobQueue, PermanentJobError
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import Tx
from fhir_server.storage.scan import START, ResourceScanner, VersionScan

__all__ = ["EXPORT", "CLEANUP", "ExportRunner", "ExportCleanup"]

EXPORT = "bulk.export"
CLEANUP = "bulk.export.cleanup"
SECOND = 1_000_000


def _outcome_line(text: str, severity: str = "error", code: str = "exception") -> bytes:
    return orjson.dumps(operation_outcome([Issue(code, text, severity=severity)]))


class ExportRunner:
    def __init__(self, *, scanner: ResourceScanner, planner: ExportPlanner, records: ExportRecords,
                 files: ExportFiles, jobs: JobQueue, config: BulkConfig, audit: ExportAudit,
                 deidentifier_for: Callable[[ExportRecord], Deidentifier | None]) -> None:
        self.scanner = scanner
        self.planner = planner
        self.records = records
        self.files = files
        self.jobs = jobs
        self.config = config
        self.audit = audit
        self.deidentifier_for = deidentifier_for

    async def __call__(self, job: Job, tx: Tx) -> dict[str, Any]:
        record = await self.records.get(tx, str(job.payload.get("export")))
        if record is None or record.status != IN_PROGRESS:
            return {"skipped": record.status if record else "gone"}
        if record.state.job is not None and record.state.job != job.pk:
            return {"skipped": "superseded"}
        try:
            return await self._slice(tx, record, record.state)
        except FhirError as exc:  # the request cannot be served any more (e.g. its Group was deleted)
            raise PermanentJobError(exc.diagnostics) from exc

    async def _slice(self, tx: Tx, record: ExportRecord, state: ExportState) -> dict[str, Any]:
        request = record.parameters
        await self.scanner.begin(tx)
        if state.types is None:
            state.types = await self.planner.types(tx, request)
        plans = {plan.res_type: self._scan(record, plan) for plan in await self.planner.plans(tx, request, state.types)}
        if state.estimate is None:
            state.estimate = sum([await self.scanner.estimate(tx, scan) for scan in plans.values()])
        transform = OutputTransform(request, self.deidentifier_for(record))
        out = self.files.slice(record.id)
        created: set[str] = set()
        written = 0
        try:
            if request.notes and not state.notes_written:
                lines = [_outcome_line(note, "warning", "not-supported") for note in request.notes]
                written += self._write(out, state, ERROR, "OperationOutcome", lines, created)
                state.notes_written = True
            deadline = time.monotonic() + self.config.slice_seconds
            while not state.finished:  # at least one batch per slice
                written += await self._batch(tx, record, state, plans[state.current_type or ""], transform, out, created)
                if time.monotonic() >= deadline or written >= self.config.slice_bytes:
                    break
            out.sync()
        finally:
            out.close()
        return await self._commit(tx, record, state, written)

    def _scan(self, record: ExportRecord, plan: TypePlan) -> VersionScan:
        return VersionScan(plan.res_type, at=record.transaction_time, since=record.parameters.since,
                           resource_filters=plan.filters, deletions=plan.deletions)

    async def _batch(self, tx: Tx, record: ExportRecord, state: ExportState, scan: VersionScan,
                     transform: OutputTransform, out: SliceFiles, created: set[str]) -> int:
        res_type = scan.res_type
        batch = await self.scanner.versions(tx, scan, state.cursor or START,
                                            max_rows=self.config.batch_rows, max_bytes=self.config.batch_bytes)
        lines: list[bytes] = []
        deleted: list[bytes] = []
        errors: list[bytes] = []
        for version in batch.versions:
            if version.deleted or version.body is None:
                deleted.append(transform.deleted_line(res_type, version.res_id))
                continue
            try:
                line = transform.line(res_type, version.body)
            except Exception as exc:  # one unreadable resource must not stop the export
                errors.append(_outcome_line(f"{transform.reference(res_type, version.res_id)} could not be "
                                            f"exported: {type(exc).__name__}"))
                continue
            if line is not None:
                lines.append(line)
        written = (self._write(out, state, OUTPUT, res_type, lines, created)
                   + self._write(out, state, DELETED, res_type, deleted, created)
                   + self._write(out, state, ERROR, "OperationOutcome", errors, created))
        state.exported += len(lines)
        state.deleted += len(deleted)
        state.errors += len(errors)
        state.cursor = batch.cursor
        if batch.done:
            state.close_files(res_type)
            state.type_index += 1
            state.cursor = None
        return written

    def _write(self, out: SliceFiles, state: ExportState, kind: str, res_type: str, lines: list[bytes],
               created: set[str]) -> int:
        limit = self.config.max_file_bytes
        total, index = 0, 0
        while index < len(lines):
            entry = state.open_file(kind, res_type)
            if entry is None or entry.bytes >= limit:
                if entry is not None:
                    entry.closed = True
                entry = state.new_file(kind, res_type)
                created.add(entry.name)
            chunk: list[bytes] = []
            size = 0
            while index < len(lines) and (not chunk or entry.bytes + size + len(lines[index]) + 1 <= limit):
                chunk.append(lines[index])
                size += len(lines[index]) + 1
                index += 1
            data = b"\n".join(chunk) + b"\n"
            out.append(entry, data, created=entry.name in created)
            entry.bytes += len(data)
            entry.count += len(chunk)
            total += len(data)
        return total

    async def _commit(self, tx: Tx, record: ExportRecord, state: ExportState, written: int) -> dict[str, Any]:
        if state.finished:
            expires = now_micros() + self.config.retention_seconds * SECOND
            if not await self.records.complete(tx, record, state, expires_at=expires):
                self.files.remove(record.id)
                return {"cancelled": True}
            await self.jobs.enqueue(tx, CLEANUP, {"export": record.id}, delay_seconds=self.config.retention_seconds)
            await self.audit.record(None, "complete", record.id, owner=record.owner,
                                    detail=f"{state.exported} resources in {len(state.files)} files")
            return {"complete": True, "exported": state.exported}
        state.job = await self.jobs.enqueue(tx, EXPORT, {"export": record.id})
        if not await self.records.save(tx, record, state):
            await tx.db.execute("DELETE FROM jobs WHERE pk = $1", state.job)
            self.files.remove(record.id)
            return {"cancelled": True}
        return {"exported": state.exported, "bytes": written}


class ExportCleanup:
    def __init__(self, *, records: ExportRecords, files: ExportFiles, jobs: JobQueue) -> None:
        self.records = records
        self.files = files
        self.jobs = jobs

    async def __call__(self, job: Job, tx: Tx) -> dict[str, Any]:
        export_id = str(job.payload.get("export"))
        record = await self.records.get(tx, export_id)
        if record is None:
            self.files.remove(export_id)
            return {"removed": export_id}
        now = now_micros()
        if record.status == CANCELLED or (record.expires_at is not None and record.expires_at <= now):
            self.files.remove(export_id)
            await self.records.delete(tx, export_id)
            return {"removed": export_id}
        if record.expires_at is not None:
            await self.jobs.enqueue(tx, CLEANUP, {"export": export_id},
                                    delay_seconds=(record.expires_at - now) / SECOND)
        return {"kept": export_id}
