"""Bulk Data export as a service: kick-off, status, files and cancellation, framework-free.

    exports = BulkExports(store=..., registry=..., jobs=..., config=BulkConfig.in_data_dir(path))
    export_id = await exports.kick_off(ctx, request, request_url=...)     # 202 + Content-Location
    status = await exports.status(principal, export_id, base_url)          # in progress / manifest / failed
    path = await exports.file(principal, export_id, name)                  # an NDJSON file to serve
    await exports.cancel(principal, export_id)                             # DELETE

Status, files and cancellation answer 404 to anyone but the export's owner (`ExportGuard`), as
they do for an export that does not exist, expired or was cancelled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fhir_server.bulk.access import DefaultExportGuard, ExportAudit, ExportGuard
from fhir_server.bulk.config import BulkConfig
from fhir_server.bulk.deidentify import Deidentifier, Pseudonymizer, load_or_create_secret
from fhir_server.bulk.files import ExportFiles
from fhir_server.bulk.manifest import manifest
from fhir_server.bulk.plan import ExportPlanner
from fhir_server.bulk.progress import ExportState
from fhir_server.bulk.records import CANCELLED, COMPLETE, FAILED, IN_PROGRESS, ExportRecord, ExportRecords
from fhir_server.bulk.request import ExportRequest
from fhir_server.bulk.runner import CLEANUP, EXPORT, ExportCleanup, ExportRunner
from fhir_server.bulk.throttle import PollThrottle
from fhir_server.context import Principal, RequestContext
from fhir_server.errors import NotFound
from fhir_server.jobs import FAILED as JOB_FAILED
from fhir_server.jobs import Handler, JobQueue
from fhir_server.search import SearchRegistry
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import ResourceStore
from fhir_server.storage.scan import ResourceScanner

__all__ = ["BulkExports", "ExportStatus"]

SECOND = 1_000_000


@dataclass(frozen=True, slots=True)
class ExportStatus:
    """`state`: in-progress (with `progress`), complete (with `manifest`, `expires_at`) or failed (`error`)."""

    state: str
    progress: str = ""
    manifest: dict[str, Any] | None = None
    error: str | None = None
    expires_at: int | None = None
    retry_after: int = 2


def _progress(state: ExportState) -> str:
    done, estimate = state.exported, state.estimate
    doing = f"; exporting {state.current_type}" if state.current_type else ""
    if not estimate:
        return f"{done:,} resources exported{doing}"
    percent = min(99, done * 100 // estimate)
    return f"{percent}% ({done:,} of about {estimate:,} resources{doing})"


class BulkExports:
    def __init__(self, *, store: ResourceStore, registry: SearchRegistry, jobs: JobQueue, config: BulkConfig,
                 guard: ExportGuard | None = None, audit: ExportAudit | None = None) -> None:
        self.store = store
        self.jobs = jobs
        self.config = config
        self.guard = guard or DefaultExportGuard()
        self.audit = audit or ExportAudit()
        self.records = ExportRecords()
        self.files = ExportFiles(config.root)
        self.planner = ExportPlanner(store, registry)
        self.throttle = PollThrottle(config.poll_min_interval, retry_after=config.retry_after)
        self._pseudonyms: Pseudonymizer | None = None
        self.runner = ExportRunner(scanner=ResourceScanner(store), planner=self.planner, records=self.records,
                                   files=self.files, jobs=jobs, config=config, audit=self.audit,
                                   deidentifier_for=self.deidentifier_for)
        self.cleanup = ExportCleanup(records=self.records, files=self.files, jobs=jobs)

    def job_handlers(self) -> dict[str, Handler]:
        return {EXPORT: self.runner, CLEANUP: self.cleanup}

    def deidentifier_for(self, record: ExportRecord) -> Deidentifier | None:
        mode = record.parameters.deidentify
        if mode is None:
            return None
        if self._pseudonyms is None:
            self._pseudonyms = Pseudonymizer(load_or_create_secret(self.config.secret_file))
        year = datetime.fromtimestamp(record.transaction_time / SECOND, UTC).year
        return Deidentifier(self._pseudonyms, mode=mode, reference_year=year, base_url=record.parameters.base_url)

    # -- kick-off ------------------------------------------------------------------------------

    async def kick_off(self, ctx: RequestContext, request: ExportRequest, *, request_url: str) -> str:
        """Record the export and enqueue its first slice; returns its id (the status URL's last segment)."""
        self.guard.authorize(ctx.principal, level=request.level, types=request.types,
                             deidentified=request.deidentify is not None)
        for res_type, queries in request.type_filters.items():  # refuse now what the job would fail on
            self.planner.type_filter(res_type, queries)
        async with self.store.read() as tx:
            types = await self.planner.types(tx, request)
            await self.planner.plans(tx, request, types)
        export_id = uuid.uuid4().hex
        owner = self.guard.owner(ctx.principal)
        async with self.store.write() as tx:
            job = await self.jobs.enqueue(tx, EXPORT, {"export": export_id})
            await self.records.insert(tx, export_id=export_id, owner=owner, request_url=request_url, request=request,
                                      transaction_time=now_micros(), state=ExportState(job=job))
        await self.audit.record(ctx.principal, "kick-off", export_id, request=request_url)
        return export_id

    # -- status --------------------------------------------------------------------------------

    async def _owned(self, principal: Principal, export_id: str) -> ExportRecord:
        self.files.directory(export_id)  # NotFound for anything not shaped like an export id
        async with self.store.read() as tx:
            record = await self.records.get(tx, export_id)
        if record is None or record.status == CANCELLED or not self.guard.may_access(principal, record.owner):
            raise NotFound(f"no export '{export_id}' (it may have expired or been cancelled)")
        if record.expires_at is not None and record.expires_at <= now_micros():
            raise NotFound(f"export '{export_id}' has expired")
        return record

    async def status(self, principal: Principal, export_id: str, base_url: str) -> ExportStatus:
        record = await self._owned(principal, export_id)
        if record.status == IN_PROGRESS:
            self.throttle.check(export_id)
            failure = await self._job_failure(record)
            if failure is None:
                return ExportStatus(IN_PROGRESS, progress=_progress(record.state), retry_after=self.config.retry_after)
            record = await self._mark_failed(record, failure)
        if record.status == FAILED:
            return ExportStatus(FAILED, error=record.error or "the export failed")
        self.throttle.forget(export_id)
        return ExportStatus(COMPLETE, manifest=manifest(record, base_url), expires_at=record.expires_at)

    async def _job_failure(self, record: ExportRecord) -> str | None:
        if record.state.job is None:
            return None
        job = await self.jobs.status(record.state.job)
        if job is None or job["status"] != JOB_FAILED:
            return None
        return str((job.get("result") or {}).get("error") or "the export job failed")

    async def _mark_failed(self, record: ExportRecord, error: str) -> ExportRecord:
        expires = now_micros() + self.config.retention_seconds * SECOND
        async with self.store.write() as tx:
            if await self.records.fail(tx, record.id, error, expires_at=expires):
                await self.jobs.enqueue(tx, CLEANUP, {"export": record.id},
                                        delay_seconds=self.config.retention_seconds)
            current = await self.records.get(tx, record.id)
        await self.audit.record(None, "failed", record.id, owner=record.owner, outcome="8", detail=error)
        return current or record

    # -- files and cancellation ----------------------------------------------------------------

    async def file(self, principal: Principal, export_id: str, name: str) -> Path:
        record = await self._owned(principal, export_id)
        if record.status != COMPLETE or name not in {entry.name for entry in record.state.files}:
            raise NotFound(f"export {export_id} has no file '{name}'")
        path = self.files.path(export_id, name)
        if not path.exists():
            raise NotFound(f"the file '{name}' of export {export_id} is gone")
        await self.audit.record(principal, "download", export_id, detail=name)
        return path

    async def cancel(self, principal: Principal, export_id: str) -> None:
        record = await self._owned(principal, export_id)
        async with self.store.write() as tx:
            if await self.records.cancel(tx, record.id):
                await self.jobs.enqueue(tx, CLEANUP, {"export": record.id})
        self.throttle.forget(export_id)
        await self.audit.record(principal, "cancel", export_id)
