"""The writes a unit of work applies together, and the staged form of a resource version.

Every write interaction — a single create, an entry of a transaction Bundle, a line of a bulk import —
becomes one of these operations and goes through `ResourceService.write_many_in`, so validation,
stamping, versioning, indexing, encryption and change events happen in exactly one place whether a
transaction writes one resource or a thousand.

    Create(prepared, res_id)                        POST: a new logical resource
    Put(prepared, res_id, if_match, keep_unchanged) PUT by id: update, or update-as-create
    Patch(res_type, res_id, patch, content_type, if_match)
    Remove(res_type, res_id, if_match)               DELETE
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_server.errors import FhirError, Issue
from fhir_server.services.ports import Indexer, Validator
from fhir_server.services.preparation import check_shape, check_valid, stamp
from fhir_server.storage.batch import IndexRows
from fhir_server.storage.instants import now_micros
from resources import fhir_json

__all__ = ["Prepared", "Staged", "by_constructor", "Create", "Put", "Patch", "Remove", "WriteOp", "BatchWriteError", "prepare", "stage"]


@dataclass(frozen=True, slots=True)
class Staged:
    """A version in its stored form: the stamped JSON bytes and the search index rows.

    `stamped` is the stamped resource as a dict; None when it was staged in another process (bulk
    import workers send only the bytes), in which case it is parsed again only if needed."""

    res_id: str
    version_id: int
    last_updated: int
    body: bytes
    index: IndexRows
    stamped: dict[str, Any] | None = None

    def resource(self) -> dict[str, Any]:
        return self.stamped if self.stamped is not None else fhir_json.loads(self.body)

    @property
    def stored(self) -> dict[str, Any] | bytes:
        """The stamped dict when at hand, else the bytes (`Change.stored`: parsed only if read)."""
        return self.stamped if self.stamped is not None else self.body

    def __reduce__(self) -> tuple[Any, ...]:
        return by_constructor(self)


def by_constructor(value: Any) -> tuple[Any, ...]:
    """`__reduce__` of a slotted dataclass: pickled as its constructor's arguments. Import workers send
    thousands of staged records; the default rebuilt them field by field, at twice the cost."""
    return type(value), tuple(getattr(value, name) for name in value.__slots__)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A resource checked for shape and validity (`issues` are its warnings), ready to be written.

    `staged`: its version 1, staged ahead of the transaction (outside any lock); used when the write
    does create version 1 of `staged.res_id`, restaged otherwise."""

    res_type: str
    resource: dict[str, Any] | None
    issues: list[Issue] = field(default_factory=list)
    staged: Staged | None = None

    def content(self) -> dict[str, Any]:
        if self.resource is not None:
            return self.resource
        if self.staged is None:
            raise ValueError("a prepared write needs its resource or a staged version")
        return self.staged.resource()


@dataclass(frozen=True, slots=True)
class Create:
    prepared: Prepared
    res_id: str

    @property
    def res_type(self) -> str:
        return self.prepared.res_type


@dataclass(frozen=True, slots=True)
class Put:
    """`keep_unchanged`: when the content is the current version's, make no new version (servers need not
    version unchanged content, https://hl7.org/fhir/R4/http.html#update); asked by the HL7 gateway, whose
    replays and resent results update with what is stored already. A client's PUT always versions."""

    prepared: Prepared
    res_id: str
    if_match: int | None = None
    keep_unchanged: bool = False

    @property
    def res_type(self) -> str:
        return self.prepared.res_type


@dataclass(frozen=True, slots=True)
class Patch:
    res_type: str
    res_id: str
    patch: Any
    content_type: str
    if_match: int | None = None


@dataclass(frozen=True, slots=True)
class Remove:
    res_type: str
    res_id: str
    if_match: int | None = None


WriteOp = Create | Put | Patch | Remove


class BatchWriteError(Exception):
    """The operation at `position` of a batch failed with `error`; nothing of the batch was written."""

    def __init__(self, position: int, error: FhirError) -> None:
        super().__init__(f"operation {position}: {error.diagnostics}")
        self.position = position
        self.error = error


def prepare(validator: Validator, res_type: str, resource: Any) -> Prepared:
    """Shape and validation of a resource a client sent: BadRequest / InvalidResource / Unprocessable."""
    resource = check_shape(resource, res_type)
    return Prepared(res_type, resource, check_valid(validator, resource))


def stage(indexer: Indexer, resource: dict[str, Any], res_id: str, version_id: int,
          last_updated: int | None = None) -> Staged:
    """Stamp `resource` as version `version_id` of `res_id`, serialise it and extract its index rows."""
    at = now_micros() if last_updated is None else last_updated
    stamped = stamp(resource, res_id=res_id, version_id=version_id, last_updated=at)
    return Staged(res_id, version_id, at, fhir_json.dumps(stamped), indexer(stamped), stamped)
