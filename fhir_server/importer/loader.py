"""The bulk loader behind `fhir-server import` and `fhir-server demo`.

Files are read as a stream of records, staged in batches (validated, stamped, serialised and indexed,
in worker processes when there are any) and written one batch per transaction: many resources per
transaction, one multi-row statement per table — on PostgreSQL one COPY per table for the resources
that are new (`bulk_writer`), their index rows encoded by the staging workers. The batch's
checkpoint — the byte offset and number of its last record — is written in the same transaction, so
an interrupted load resumes exactly after the last committed batch, and a file already loaded is
skipped. Rejected records are reported (file,
record number, OperationOutcome) and the load goes on.

While batch n is being written, the next batches are being staged: memory holds a bounded number of
batches whatever the size of the files. On PostgreSQL batch n + 1 is written beside batch n and
commits after it (`_Writes`), so the database is not left idle while this process prepares a batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

import orjson

from fhir_server.context import RequestContext
from fhir_server.importer.bulk_writer import BulkWriter
from fhir_server.importer.bundle_stream import BundleScan, scan_bundle
from fhir_server.importer.sources import BUNDLE, NDJSON, Record, Source, fingerprint, read_records
from fhir_server.importer.staging import StagedRecord, Stager, bundle_identity
from fhir_server.importer.workers import stage_in_worker
from fhir_server.importer.writer import BatchOutcome, write_records
from fhir_server.services.resources import ResourceService
from fhir_server.storage.positions import Positions
from fhir_server.storage.repository import Tx

__all__ = ["Importer", "ImportReport", "Checkpoint", "checkpoint_names", "BATCH_SIZE"]

SINGLE_RESOURCE_LIMIT = 64 * 1024 * 1024
# records per transaction: each batch pays a commit, a lookup of its ids and a COPY per table. On 2
# cores 2,500 loaded the ingest bench's 100,000 resources 12% faster than 1,000 (and as fast as
# 5,000, for 50 MB less memory); 10,000 was slower again, the first and last batches staged or
# written while the rest of the pipeline waits
BATCH_SIZE = 2500
# batches being written at once (PostgreSQL, `_Writes`)
WRITING = 2
OnProgress = Callable[[int, int], None]  # (bytes read since last call, resources written since last call)
OnReject = Callable[[str, int, dict[str, Any]], None]  # (file, record number, OperationOutcome)


@dataclass(slots=True)
class ImportReport:
    files: int = 0
    skipped: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    rejected: int = 0
    seconds: float = 0.0

    @property
    def written(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True, slots=True)
class Checkpoint:
    offset: int
    number: int


def checkpoint_names(scope: str, source: Source) -> tuple[str, str, str]:
    """Names of the (offset, record number, file fingerprint) positions of one file in one scope."""
    key = hashlib.sha256(f"{scope}|{source.path.resolve()}".encode()).hexdigest()[:24]
    return f"import:{key}:offset", f"import:{key}:number", f"import:{key}:fingerprint"


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while chunk := list(islice(records, size)):
        yield chunk


class Importer:
    def __init__(self, resources: ResourceService, positions: Positions, ctx: RequestContext, *,
                 batch_size: int = BATCH_SIZE, executor: Executor | None = None, workers: int = 0,
                 scope: str = "cli") -> None:
        """`executor`: a pool from `workers.staging_pool` (None: stage in this process); `workers`: how
        many processes it runs, so that many batches (plus one) are staged ahead."""
        self.resources = resources
        self.positions = positions
        self.ctx = replace(ctx, bulk_load=True)  # change subscribers see a bulk load, not a clinical write
        self.batch_size = batch_size
        self.executor = executor
        self.parts = max(1, workers)  # a batch is staged in this many parts at once (`_staged`)
        self.ahead = self.parts + 1
        self.scope = scope
        self.stager = Stager(resources.validator, resources.indexer)
        # PostgreSQL: new resources go in by COPY (`bulk_writer`); SQLite: all through `write_records`
        self.bulk = None if resources.store.is_sqlite else BulkWriter(resources)

    async def run(self, sources: Iterable[Source], *, restart: bool = False, on_progress: OnProgress | None = None,
                  on_reject: OnReject | None = None) -> ImportReport:
        report = ImportReport()
        started = time.monotonic()
        progress = on_progress or (lambda _bytes, _written: None)
        reject = on_reject or (lambda _file, _number, _outcome: None)
        for source in sources:
            report.files += 1
            await self._load(source, restart, report, progress, reject)
        report.seconds = time.monotonic() - started
        return report

    async def _resume_point(self, source: Source, restart: bool) -> tuple[Checkpoint, int]:
        offset_name, number_name, print_name = checkpoint_names(self.scope, source)
        digest = fingerprint(source)
        if restart:
            return Checkpoint(0, 0), digest
        saved = await self.positions.get([offset_name, number_name, print_name])
        if saved.get(print_name) != digest or saved.get(offset_name, 0) > source.size:
            return Checkpoint(0, 0), digest
        return Checkpoint(saved.get(offset_name, 0), saved.get(number_name, 0)), digest

    async def _load(self, source: Source, restart: bool, report: ImportReport, progress: OnProgress,
                    reject: OnReject) -> None:
        start, digest = await self._resume_point(source, restart)
        if start.offset and start.offset >= source.size:
            report.skipped.append(source.name)
            progress(source.size, 0)
            return
        progress(start.offset, 0)
        kind, urls, records = self._records(source, start)
        pending: deque[Awaitable[list[StagedRecord]]] = deque()
        writes = _Writes(self, source, digest, start.offset, report, progress, reject)
        try:
            for chunk in _chunks(records, self.batch_size):
                pending.append(self._stage(kind, chunk, urls))
                if len(pending) >= self.ahead:
                    await writes.add(await pending.popleft())
            while pending:
                await writes.add(await pending.popleft())
            position = await writes.settle_all()
        finally:
            await writes.abandon()
        if position < source.size:
            # trailing blank lines or the Bundle's closing: mark the file done
            await self.resources.run_in_transaction(lambda tx: self._checkpoint(tx, source, digest, source.size, None))
            progress(source.size - position, 0)

    def _records(self, source: Source, start: Checkpoint) -> tuple[str, dict[str, str] | None, Iterator[Record]]:
        if source.kind != BUNDLE:
            return NDJSON, None, read_records(source, offset=start.offset, number=start.number)
        scan = BundleScan()
        urls: dict[str, str] = {}
        with source.path.open("rb") as handle:
            for _, _, data in scan_bundle(handle, scan=scan):
                try:
                    identity = bundle_identity(orjson.loads(data))
                except orjson.JSONDecodeError:
                    continue
                if identity is not None:
                    urls[identity[0]] = identity[1]
        if scan.saw_entries or scan.top.get("resourceType") == "Bundle" or source.size > SINGLE_RESOURCE_LIMIT:
            return BUNDLE, urls, read_records(source, offset=start.offset, number=start.number)
        # a .json file holding one resource rather than a Bundle
        return NDJSON, None, iter([Record(1, source.size, source.path.read_bytes())])

    def _stage(self, kind: str, chunk: list[Record], urls: dict[str, str] | None) -> Awaitable[list[StagedRecord]]:
        return asyncio.ensure_future(self._staged(kind, chunk, urls))

    async def _staged(self, kind: str, chunk: list[Record], urls: dict[str, str] | None) -> list[StagedRecord]:
        pks = await self.bulk.reserve_pks(len(chunk)) if self.bulk is not None else None
        if self.executor is None:
            return self.stager.stage(kind, chunk, urls, pks=pks)
        raw = [(record.number, record.end, record.data) for record in chunk]
        loop = asyncio.get_running_loop()
        if urls or self.parts == 1:  # a Bundle's urls cross to the workers once per batch, not per part
            return await loop.run_in_executor(self.executor, stage_in_worker, kind, raw, urls, pks)
        # the batch is staged by every worker at once: it is ready sooner, so the first batch is written
        # sooner and the last one does not leave the other workers idle while one stages it
        size = -(-len(raw) // self.parts)
        parts = await asyncio.gather(*(
            loop.run_in_executor(self.executor, stage_in_worker, kind, raw[start:start + size], None,
                                 pks[start:start + size] if pks is not None else None)
            for start in range(0, len(raw), size)))
        return [record for part in parts for record in part]

    async def _write(self, source: Source, staged: list[StagedRecord], digest: int,
                     previous: asyncio.Future[BatchOutcome] | None) -> BatchOutcome:
        """Write one batch with its checkpoint in one transaction, committed after `previous` (the
        batch before it, still being written) has committed; if that one fails, this one rolls back."""
        last = staged[-1]

        async def turn() -> None:
            if previous is not None:
                await asyncio.shield(previous)  # raises what ended it

        async def work(tx: Tx) -> BatchOutcome:
            if self.bulk is not None:
                outcome = await self.bulk.write(tx, self.ctx, staged, turn=turn)
            else:
                await turn()
                outcome = await write_records(self.resources, tx, self.ctx, staged)
            await self._checkpoint(tx, source, digest, last.end, last.number)
            return outcome

        return await self.resources.run_in_transaction(work)

    async def _checkpoint(self, tx: Tx, source: Source, digest: int, offset: int, number: int | None) -> None:
        offset_name, number_name, print_name = checkpoint_names(self.scope, source)
        values = {offset_name: offset, print_name: digest}
        if number is not None:
            values[number_name] = number
        await self.positions.set(tx, values)


@dataclass(slots=True)
class _Batch:
    staged: list[StagedRecord]
    keys: set[tuple[str | None, str]]
    written: asyncio.Future[BatchOutcome]


class _Writes:
    """The batches of one file being written, in order: on PostgreSQL two at a time, so that while
    one batch's rows go into the database the next one's are prepared and sent (the writing process
    and the database take turns otherwise, each idle while the other works). A batch shares no
    (type, id) with the one before it still being written (else it waits for it to commit), and does
    what reads or announces other resources only once that one has committed (`BulkWriter.write`):
    the result is the same as writing them one after the other. Reports and progress follow the
    commits, in order."""

    def __init__(self, importer: Importer, source: Source, digest: int, position: int, report: ImportReport,
                 progress: OnProgress, reject: OnReject) -> None:
        self.importer = importer
        self.source = source
        self.digest = digest
        self.position = position
        self.report = report
        self.progress = progress
        self.reject = reject
        self.limit = 1 if importer.bulk is None else WRITING  # SQLite: one writer at a time anyway
        self.batches: deque[_Batch] = deque()

    async def add(self, staged: list[StagedRecord]) -> None:
        while len(self.batches) >= self.limit:
            await self._settle()
        keys = {(record.res_type, record.staged.res_id) for record in staged if record.staged is not None}
        if self.batches and not self.batches[-1].keys.isdisjoint(keys):
            await self.settle_all()
        previous = self.batches[-1].written if self.batches else None
        written = asyncio.ensure_future(self.importer._write(self.source, staged, self.digest, previous))
        self.batches.append(_Batch(staged, keys, written))

    async def settle_all(self) -> int:
        """Wait for every batch to commit; the file position after the last one."""
        while self.batches:
            await self._settle()
        return self.position

    async def abandon(self) -> None:
        """After a failure: the batches still being written roll back."""
        for batch in self.batches:
            batch.written.cancel()
        await asyncio.gather(*(batch.written for batch in self.batches), return_exceptions=True)
        self.batches.clear()

    async def _settle(self) -> None:
        batch = self.batches[0]
        outcome = await batch.written
        self.batches.popleft()
        report = self.report
        for record in batch.staged:
            if record.outcome is not None:
                report.rejected += 1
                self.reject(self.source.name, record.number, record.outcome)
        for number, rejected in outcome.rejected:
            report.rejected += 1
            self.reject(self.source.name, number, rejected)
        report.created += outcome.created
        report.updated += outcome.updated
        last = batch.staged[-1]
        self.progress(last.end - self.position, outcome.written)
        self.position = last.end
