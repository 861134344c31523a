"""What an interaction returns: the version it produced or found, and how it went."""

from __future__ import annotations

from dataclasses import dataclass, field

from fhir_server.errors import Issue
from fhir_server.storage.instants import to_instant

__all__ = ["ResourceVersion", "WriteResult"]


@dataclass(frozen=True, slots=True)
class ResourceVersion:
    """One version of a resource as stored: `body` is its JSON bytes, served as they are."""

    res_type: str
    res_id: str
    version_id: int
    last_updated: int
    deleted: bool
    body: bytes | None

    @property
    def etag(self) -> str:
        return f'W/"{self.version_id}"'

    @property
    def last_updated_instant(self) -> str:
        return to_instant(self.last_updated)

    @property
    def versioned_path(self) -> str:
        return f"{self.res_type}/{self.res_id}/_history/{self.version_id}"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """`created`: a new logical resource (201). `changed`: False when nothing was written
    (a conditional create that found its match, a delete of something already gone)."""

    version: ResourceVersion | None
    created: bool = False
    changed: bool = True
    issues: list[Issue] = field(default_factory=list)
