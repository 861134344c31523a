"""The `bulk_exports` rows: an export's request, owner, status and committed state.

State changes of a running export are conditional on its slice counter (`slice`), so a slice that
lost its lease to another worker, or an export cancelled meanwhile, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server.bulk.progress import ExportState
from fhir_server.bulk.request import ExportRequest
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import Tx

__all__ = ["ExportRecord", "ExportRecords", "IN_PROGRESS", "COMPLETE", "FAILED", "CANCELLED"]

IN_PROGRESS, COMPLETE, FAILED, CANCELLED = "in-progress", "complete", "failed", "cancelled"

_COLUMNS = "id, status, owner, request, parameters, transaction_time, state, slice, error, created_at, updated_at, expires_at"
_INSERT = (f"INSERT INTO bulk_exports ({_COLUMNS}) "
           "VALUES ($1, 'in-progress', $2, $3, $4, $5, $6, 0, NULL, $7, $7, NULL)")
_GET = f"SELECT {_COLUMNS} FROM bulk_exports WHERE id = $1"
_SAVE = ("UPDATE bulk_exports SET state = $1, slice = slice + 1, updated_at = $2 "
         "WHERE id = $3 AND slice = $4 AND status = 'in-progress' RETURNING id")
_COMPLETE = ("UPDATE bulk_exports SET state = $1, slice = slice + 1, updated_at = $2, status = 'complete', "
             "expires_at = $5 WHERE id = $3 AND slice = $4 AND status = 'in-progress' RETURNING id")
_FAIL = ("UPDATE bulk_exports SET status = 'failed', error = $1, updated_at = $2, expires_at = $4 "
         "WHERE id = $3 AND status = 'in-progress' RETURNING id")
_CANCEL = ("UPDATE bulk_exports SET status = 'cancelled', updated_at = $1 "
           "WHERE id = $2 AND status <> 'cancelled' RETURNING id")
_DELETE = "DELETE FROM bulk_exports WHERE id = $1"


@dataclass(frozen=True, slots=True)
class ExportRecord:
    id: str
    status: str
    owner: str
    request: str
    parameters: ExportRequest
    transaction_time: int
    state: ExportState
    slice: int
    error: str | None
    created_at: int
    updated_at: int
    expires_at: int | None


def _record(row: Any) -> ExportRecord:
    (export_id, status, owner, request, parameters, transaction_time, state, slice_, error, created_at, updated_at,
     expires_at) = row
    return ExportRecord(export_id, status, owner, request, ExportRequest.from_json(orjson.loads(parameters)),
                        transaction_time, ExportState.from_json(orjson.loads(state)), slice_, error, created_at,
                        updated_at, expires_at)


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


class ExportRecords:
    async def insert(self, tx: Tx, *, export_id: str, owner: str, request_url: str, request: ExportRequest,
                     transaction_time: int, state: ExportState) -> None:
        await tx.db.execute(_INSERT, export_id, owner, request_url, _json(request.to_json()), transaction_time,
                            _json(state.to_json()), now_micros())

    async def get(self, tx: Tx, export_id: str) -> ExportRecord | None:
        row = await tx.db.fetchrow(_GET, export_id)
        return None if row is None else _record(row)

    async def save(self, tx: Tx, record: ExportRecord, state: ExportState) -> bool:
        """Store the state of a slice; False when the export moved on without it (cancelled, or
        another slice committed first)."""
        return await tx.db.fetchval(_SAVE, _json(state.to_json()), now_micros(), record.id, record.slice) is not None

    async def complete(self, tx: Tx, record: ExportRecord, state: ExportState, *, expires_at: int) -> bool:
        return await tx.db.fetchval(_COMPLETE, _json(state.to_json()), now_micros(), record.id, record.slice,
                                    expires_at) is not None

    async def fail(self, tx: Tx, export_id: str, error: str, *, expires_at: int) -> bool:
        return await tx.db.fetchval(_FAIL, error, now_micros(), export_id, expires_at) is not None

    async def cancel(self, tx: Tx, export_id: str) -> bool:
        return await tx.db.fetchval(_CANCEL, now_micros(), export_id) is not None

    async def delete(self, tx: Tx, export_id: str) -> None:
        await tx.db.execute(_DELETE, export_id)
