"""`POST [base]/$import`: bulk import of NDJSON files the server can read, as a background job with
the Bulk Data asynchronous request pattern (https://hl7.org/fhir/uv/bulkdata/async.html).

    POST /fhir/$import            Parameters: input = (type, url) parts naming NDJSON files
      → 202 Accepted, Content-Location: /fhir/$import-status/{id}
    GET  /fhir/$import-status/{id}
      → 202 + X-Progress while it runs; 200 + the result; 500 + OperationOutcome if it failed
    DELETE /fhir/$import-status/{id}
      → 202: the import stops after the batch in progress (what was committed stays)

Only local files under the allowed directory are read (`file://` URLs or paths relative to it);
anything else is refused. The import runs as a chain of jobs, each loading one batch in the job's
own transaction — the resources, the job's completion and the next job commit together — so it
survives restarts and never holds a lock for longer than one batch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, Forbidden, Issue, NotFound, operation_outcome
from fhir_server.importer.bulk_writer import BulkWriter
from fhir_server.importer.sources import NDJSON, Record, Source, read_records
from fhir_server.importer.staging import StagedRecord, Stager
from fhir_server.importer.writer import write_records
from fhir_server.jobs import DONE, FAILED, Job, JobQueue, PermanentJobError
from fhir_server.services.resources import ResourceService, require_type
from fhir_server.storage.instants import now_micros, to_instant
from fhir_server.storage.positions import Positions
from fhir_server.storage.repository import Tx

__all__ = ["ImportOperation", "ImportStatus", "KIND"]

KIND = "fhir-import"
REJECTS_KEPT = 100


@dataclass(frozen=True, slots=True)
class ImportStatus:
    """`state`: in-progress | complete | failed. `result`: the completion document (complete) or the
    error (failed). `progress`: e.g. "42% (12,345 resources)"."""

    state: str
    progress: str = ""
    result: dict[str, Any] | None = None


def _names(import_id: int) -> dict[str, str]:
    prefix = f"import-op:{import_id}:"
    return {key: prefix + key for key in ("job", "cancel", "done", "total", "written")}


class ImportOperation:
    def __init__(self, *, resources: ResourceService, jobs: JobQueue, positions: Positions, root: Path,
                 batch_size: int = 1000) -> None:
        self.resources = resources
        self.jobs = jobs
        self.positions = positions
        self.root = root
        self.batch_size = batch_size
        self.stager = Stager(resources.validator, resources.indexer)
        self.bulk = None if resources.store.is_sqlite else BulkWriter(resources)

    # -- kick-off ------------------------------------------------------------------------------

    def _path(self, url: str) -> Path:
        parsed = urlparse(url)
        if parsed.scheme not in ("", "file"):
            raise Forbidden(f"'{url}' is not a local file: $import reads only files under the server's import "
                            "directory (file:// URLs or paths relative to it)")
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise Forbidden(f"'{url}' names another host; $import reads only local files")
        raw = Path(unquote(parsed.path))
        root = self.root.resolve()
        path = (raw if raw.is_absolute() else root / raw).resolve()
        if not path.is_relative_to(root):
            raise Forbidden(f"'{url}' is outside the directory $import may read from")
        if not path.is_file():
            raise BadRequest(f"'{url}' is not a readable file under the import directory")
        return path

    def inputs(self, parameters: Any) -> list[dict[str, Any]]:
        """The files a `Parameters` body asks for: `input` parameters with `url` (and `type`) parts."""
        if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
            raise BadRequest("$import takes a Parameters resource naming its inputs")
        found = []
        for parameter in parameters.get("parameter") or []:
            if not isinstance(parameter, dict):
                continue
            name = parameter.get("name")
            if name == "inputFormat" and parameter.get("valueCode", "application/fhir+ndjson") not in (
                    "application/fhir+ndjson", "application/ndjson", "ndjson"):
                raise BadRequest("$import reads application/fhir+ndjson only")
            if name != "input":
                continue
            parts = {part.get("name"): part for part in parameter.get("part") or [] if isinstance(part, dict)}
            url_part = parts.get("url", {})
            url = url_part.get("valueUrl") or url_part.get("valueUri") or url_part.get("valueString")
            if not isinstance(url, str) or not url:
                raise BadRequest("each $import input needs a url part")
            res_type = parts.get("type", {}).get("valueCode")
            if res_type is not None:
                require_type(res_type)
            path = self._path(url)
            found.append({"url": url, "path": str(path), "type": res_type, "size": path.stat().st_size})
        if not found:
            raise BadRequest("$import needs at least one input (a Parameters.parameter named 'input')")
        return found

    async def kick_off(self, ctx: RequestContext, parameters: Any) -> int:
        """Queue the import; returns its id (the status URL's last segment)."""
        inputs = self.inputs(parameters)
        payload = {"inputs": inputs, "file": 0, "offset": 0, "number": 0, "created": 0, "updated": 0,
                   "rejected": 0, "rejects": [], "request": f"{ctx.base_url}/$import",
                   "transactionTime": to_instant(now_micros())}

        async def enqueue(tx: Tx) -> int:
            pk = await self.jobs.enqueue(tx, KIND, payload)
            if pk is None:
                raise AssertionError("an import job without a dedupe key is always queued")
            names = _names(pk)
            await self.positions.set(tx, {names["job"]: pk, names["done"]: 0,
                                          names["total"]: sum(i["size"] for i in inputs), names["written"]: 0})
            return pk

        return await self.resources.run_in_transaction(enqueue)

    # -- status and cancellation ---------------------------------------------------------------

    async def status(self, ctx: RequestContext, import_id: int) -> ImportStatus:
        names = _names(import_id)
        state = await self.positions.get(list(names.values()))
        if names["job"] not in state or names["cancel"] in state:
            raise NotFound(f"there is no import {import_id}" if names["job"] not in state
                           else f"import {import_id} was cancelled")
        job = await self.jobs.status(state[names["job"]])
        if job is None or job["kind"] != KIND:
            raise NotFound(f"there is no import {import_id}")
        total, done = state.get(names["total"], 0), state.get(names["done"], 0)
        progress = f"{(100 * done // total) if total else 100}% ({state.get(names['written'], 0):,} resources)"
        if job["status"] == FAILED:
            return ImportStatus("failed", progress, job["result"])
        result = job["result"] or {}
        if job["status"] == DONE and result.get("state") == "complete":
            return ImportStatus("complete", progress, result.get("result"))
        return ImportStatus("in-progress", progress)

    async def cancel(self, ctx: RequestContext, import_id: int) -> None:
        names = _names(import_id)
        if names["job"] not in await self.positions.get([names["job"]]):
            raise NotFound(f"there is no import {import_id}")

        async def mark(tx: Tx) -> None:
            await self.positions.set(tx, {names["cancel"]: 1})

        await self.resources.run_in_transaction(mark)

    # -- the job -------------------------------------------------------------------------------

    async def step(self, job: Job, tx: Tx) -> dict[str, Any]:
        """Load one batch in the worker's transaction, then queue the next step (or finish)."""
        payload = dict(job.payload)
        import_id = payload.get("import_id") or job.pk
        names = _names(import_id)
        if names["cancel"] in await self.positions.get([names["cancel"]], tx):
            return {"state": "cancelled"}
        inputs = payload["inputs"]
        item = inputs[payload["file"]]
        source, records = await asyncio.to_thread(self._read_batch, item, payload["offset"], payload["number"])
        pks = await self.bulk.reserve_pks(len(records), tx) if self.bulk is not None else None
        staged = [self._of_type(record, item.get("type")) for record in self.stager.stage(NDJSON, records, pks=pks)]
        if self.bulk is not None:
            outcome = await self.bulk.write(tx, self._ctx(payload), staged)
        else:
            outcome = await write_records(self.resources, tx, self._ctx(payload), staged)
        rejects = [(record.number, record.outcome) for record in staged if record.outcome is not None]
        rejects.extend(outcome.rejected)
        for number, rejected in rejects:
            if len(payload["rejects"]) < REJECTS_KEPT:
                payload["rejects"].append({"inputUrl": item["url"], "line": number, "outcome": rejected})
        payload["rejected"] += len(rejects)
        payload["created"] += outcome.created
        payload["updated"] += outcome.updated
        end = records[-1].end if records else source.size
        done_before = sum(i["size"] for i in inputs[:payload["file"]])
        if not records or len(records) < self.batch_size:
            payload.update(file=payload["file"] + 1, offset=0, number=0)
            done = done_before + source.size
        else:
            payload.update(offset=end, number=records[-1].number)
            done = done_before + end
        progress = {names["done"]: done, names["written"]: payload["created"] + payload["updated"]}
        if payload["file"] >= len(inputs):
            await self.positions.set(tx, progress)
            return {"state": "complete", "result": self._result(payload)}
        payload["import_id"] = import_id
        next_pk = await self.jobs.enqueue(tx, KIND, payload)
        if next_pk is None:
            raise AssertionError("an import step without a dedupe key is always queued")
        await self.positions.set(tx, {**progress, names["job"]: next_pk})
        return {"state": "continued", "next": next_pk}

    def _read_batch(self, item: dict[str, Any], offset: int, number: int) -> tuple[Source, list[Record]]:
        path = Path(item["path"]).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            raise PermanentJobError(f"{item['url']} is no longer a readable file under the import directory")
        source = Source(path, NDJSON, path.stat().st_size)
        records = []
        for record in read_records(source, offset=offset, number=number):
            records.append(record)
            if len(records) >= self.batch_size:
                break
        return source, records

    @staticmethod
    def _of_type(record: StagedRecord, res_type: str | None) -> StagedRecord:
        """An input declared to hold one type refuses resources of another."""
        if res_type is None or record.staged is None or record.res_type == res_type:
            return record
        issue = Issue("invalid", f"a {record.res_type} in an input declared to hold {res_type} resources")
        return StagedRecord(record.number, record.end, outcome=operation_outcome([issue]))

    @staticmethod
    def _ctx(payload: dict[str, Any]) -> RequestContext:
        from fhir_server.context import Principal

        principal = Principal(subject="$import", role="system", scopes=frozenset({"system/*.write"}), unrestricted=True)
        return RequestContext(principal, payload["request"].rsplit("/$import", 1)[0], bulk_load=True)

    @staticmethod
    def _result(payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "transactionTime": payload["transactionTime"],
            "request": payload["request"],
            "requiresAccessToken": False,
            "output": [{"type": item.get("type"), "inputUrl": item["url"]} for item in payload["inputs"]],
            "created": payload["created"],
            "updated": payload["updated"],
            "rejected": payload["rejected"],
            "error": [{"type": "OperationOutcome", "inputUrl": reject["inputUrl"], "line": reject["line"],
                       "outcome": reject["outcome"]} for reject in payload["rejects"]],
        }
