"""Turning import records into prepared writes: parse, check, validate, stamp, serialise, index.

This is the CPU-heavy half of an import and is pure (no database), so it can run in worker
processes while the main process writes the previous batch. It uses the service layer's own
`prepare` and `stage`, so an imported resource is validated and indexed exactly like a created one.

A resource with an id is written with PUT (update-as-create: its id is kept); one without is
created with a new id. In a Bundle file an entry whose `fullUrl` is `urn:uuid:<uuid>` and whose
resource has no id keeps that uuid as its id, and references to the fullUrl are rewritten.

Given primary keys reserved for the batch (PostgreSQL), each record's index rows are also encoded
for COPY here (`copy_rows`), in case it turns out to be a new resource (`bulk_writer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fhir_server.errors import BadRequest, FhirError, Issue, operation_outcome
from fhir_server.ids import new_id
from fhir_server.importer.copy_rows import encode_index
from fhir_server.importer.sources import BUNDLE, Record
from fhir_server.services.bundle_references import Identities
from fhir_server.services.ports import Indexer, Validator
from fhir_server.services.preparation import ID_PATTERN, check_id
from fhir_server.services.resources import require_type
from fhir_server.services.write_ops import Staged, by_constructor, prepare, stage
from fhir_server.storage.batch import index_tuples
from resources import fhir_json
from resources.fhir_json import FhirJsonError

__all__ = ["StagedRecord", "Stager", "bundle_identity"]


@dataclass(frozen=True, slots=True)
class StagedRecord:
    """One record, ready to write (`staged` set) or rejected (`outcome`: an OperationOutcome).

    `pk` and `index_rows`: the primary key reserved for it and its index rows encoded for COPY with
    that key (`copy_rows.encode_index`); `staged.index` is then left empty when staged in a worker."""

    number: int
    end: int
    res_type: str | None = None
    staged: Staged | None = None
    put: bool = False
    outcome: dict[str, Any] | None = None
    pk: int | None = None
    index_rows: dict[str, bytes] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return by_constructor(self)  # workers send them back to the writer by the thousand


def _reject(record: Record, error: FhirError | Exception) -> StagedRecord:
    if isinstance(error, FhirError):
        issues = error.issues
    else:
        issues = [Issue("exception", f"{type(error).__name__}: {error}")]
    return StagedRecord(record.number, record.end, outcome=operation_outcome(issues))


def bundle_identity(entry: Any) -> tuple[str, str] | None:
    """(fullUrl, `Type/id`) for a Bundle entry whose references a load must rewrite."""
    if not isinstance(entry, dict):
        return None
    full_url, resource = entry.get("fullUrl"), entry.get("resource")
    if not isinstance(full_url, str) or not isinstance(resource, dict):
        return None
    res_type = resource.get("resourceType")
    res_id = resource.get("id") or _urn_id(full_url)
    if not isinstance(res_type, str) or not isinstance(res_id, str):
        return None
    return full_url, f"{res_type}/{res_id}"


def _urn_id(full_url: str) -> str | None:
    if full_url.startswith("urn:uuid:"):
        candidate = full_url[len("urn:uuid:"):]
        if ID_PATTERN.fullmatch(candidate):
            return candidate
    return None


class Stager:
    def __init__(self, validator: Validator, indexer: Indexer) -> None:
        self.validator = validator
        self.indexer = indexer

    def stage(self, kind: str, records: Sequence[Record], urls: Mapping[str, str] | None = None,
              *, keep_dicts: bool = True, pks: Sequence[int] | None = None) -> list[StagedRecord]:
        """Stage every record; a bad one is rejected with its OperationOutcome, never raised.
        `keep_dicts=False` drops the stamped dicts (what crosses a process boundary is bytes).
        `pks`: one reserved primary key per record, for the COPY encoding of its index rows."""
        if pks is not None and len(pks) < len(records):
            raise ValueError(f"{len(pks)} primary keys for {len(records)} records")
        identities = None
        if urls:
            identities = Identities()
            identities.urls.update(urls)
        out = []
        for n, record in enumerate(records):
            try:
                if pks is None:
                    out.append(self._one(kind, record, identities, keep_dicts))
                else:
                    out.append(self._encoded(self._one(kind, record, identities, True), pks[n], keep_dicts))
            except (FhirError, FhirJsonError) as exc:
                out.append(_reject(record, exc if isinstance(exc, FhirError) else BadRequest(str(exc), code="structure")))
            except Exception as exc:  # a record must never stop the load
                out.append(_reject(record, exc))
        return out

    @staticmethod
    def _encoded(record: StagedRecord, pk: int, keep_dicts: bool) -> StagedRecord:
        staged = record.staged
        assert staged is not None and record.res_type is not None
        index_rows = encode_index(record.res_type, pk, staged.index)
        if not keep_dicts:
            staged = Staged(staged.res_id, staged.version_id, staged.last_updated, staged.body, {})  # encoded now
        return replace(record, staged=staged, pk=pk, index_rows=index_rows)

    def _one(self, kind: str, record: Record, identities: Identities | None, keep_dicts: bool) -> StagedRecord:
        resource = fhir_json.loads(record.data)
        urn_id = None
        if kind == BUNDLE:
            if not isinstance(resource, dict) or not isinstance(resource.get("resource"), dict):
                raise BadRequest("the Bundle entry has no resource to load", code="required")
            full_url = resource.get("fullUrl")
            urn_id = _urn_id(full_url) if isinstance(full_url, str) else None
            resource = resource["resource"]
            if identities is not None:
                resource = identities.rewrite(resource)
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequest("the line is not a FHIR resource (a JSON object with a resourceType)", code="structure")
        res_type = require_type(resource["resourceType"])
        prepared = prepare(self.validator, res_type, resource)
        body_id = resource.get("id")
        put = body_id is not None or urn_id is not None
        res_id = check_id(body_id) if isinstance(body_id, str) else urn_id or new_id()
        if body_id is not None and not isinstance(body_id, str):
            raise BadRequest("the resource id must be a string")
        staged = stage(self.indexer, prepared.content(), res_id, 1)
        if not keep_dicts:
            staged = Staged(staged.res_id, staged.version_id, staged.last_updated, staged.body,
                            index_tuples(staged.index))
        return StagedRecord(record.number, record.end, res_type, staged, put)
