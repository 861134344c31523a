"""The FHIR interactions, free of any web framework: every door into the server calls these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fhir_server.operations.registry import OperationRegistry
from fhir_server.services.bundles import BundleService
from fhir_server.services.history import HistoryRequest, HistoryService
from fhir_server.services.outcome import ResourceVersion, WriteResult
from fhir_server.services.resources import ResourceService
from fhir_server.services.search import SearchRequest, SearchService

__all__ = ["Services", "BundleService", "ResourceService", "HistoryService", "HistoryRequest", "ResourceVersion", "WriteResult",
           "SearchService", "SearchRequest"]


@dataclass(frozen=True, slots=True)
class Services:
    resources: ResourceService
    history: HistoryService
    capability_statement: bytes
    search: SearchService
    bundles: BundleService
    operations: OperationRegistry
    # the TerminologyCapabilities of `GET /metadata?mode=terminology`, for the terminology held now
    terminology_capabilities: Callable[[], bytes] | None = None
