"""Writing a batch of staged records inside one transaction, through `ResourceService.write_many_in`.

Records with ids become `Put` (update-as-create), the rest `Create`. A (type, id) that appears twice
in a batch is written twice, in order, as two versions: the batch is cut into runs without repeats,
each run one `write_many_in` call in the same transaction. A record the service refuses at write
time (it cannot be applied) is rejected and the run is written without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir_server.context import RequestContext
from fhir_server.errors import operation_outcome
from fhir_server.importer.staging import StagedRecord
from fhir_server.services.resources import ResourceService
from fhir_server.services.write_ops import BatchWriteError, Create, Prepared, Put, WriteOp
from fhir_server.storage.repository import Tx

__all__ = ["BatchOutcome", "write_records"]


@dataclass(slots=True)
class BatchOutcome:
    created: int = 0
    updated: int = 0
    # (record number, OperationOutcome) of records refused at write time
    rejected: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.created + self.updated


def _op(record: StagedRecord) -> WriteOp:
    assert record.staged is not None and record.res_type is not None
    if record.index_rows is not None and not record.staged.index:
        # its index rows went out encoded for COPY (`copy_rows`): the write path stages it again
        prepared = Prepared(record.res_type, record.staged.resource(), [], None)
    else:
        prepared = Prepared(record.res_type, None, [], record.staged)
    return Put(prepared, record.staged.res_id) if record.put else Create(prepared, record.staged.res_id)


def _runs(records: Sequence[StagedRecord]) -> list[list[StagedRecord]]:
    runs: list[list[StagedRecord]] = [[]]
    seen: set[tuple[str | None, str]] = set()
    for record in records:
        assert record.staged is not None
        key = (record.res_type, record.staged.res_id)
        if key in seen:
            runs.append([])
            seen.clear()
        seen.add(key)
        runs[-1].append(record)
    return [run for run in runs if run]


async def write_records(resources: ResourceService, tx: Tx, ctx: RequestContext,
                        records: Sequence[StagedRecord]) -> BatchOutcome:
    """Write the staged (not rejected) records in `tx`; nothing commits here."""
    outcome = BatchOutcome()
    for run in _runs([record for record in records if record.staged is not None]):
        while run:
            try:
                results = await resources.write_many_in(tx, ctx, [_op(record) for record in run])
            except BatchWriteError as exc:
                outcome.rejected.append((run[exc.position].number, operation_outcome(exc.error.issues)))
                del run[exc.position]
                continue
            for result in results:
                if result.created:
                    outcome.created += 1
                else:
                    outcome.updated += 1
            break
    return outcome
