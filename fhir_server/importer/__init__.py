"""Bulk loading: NDJSON files, directories of them and Bundle files, streamed in batches that commit
atomically with their checkpoints (`fhir-server import`, `fhir-server demo`, `POST /fhir/$import`).

    sources = find_sources(["export/"])
    report = await Importer(resources, Positions(store), ctx).run(sources)

The writes carry `RequestContext.bulk_load`, so change subscribers that do follow-up work per resource
(the AI pipeline) can tell a bulk load from clinical writes.
"""

from fhir_server.importer.loader import Importer, ImportReport
from fhir_server.importer.sources import Source, SourceError, find_sources
from fhir_server.importer.workers import staging_pool

__all__ = ["Importer", "ImportReport", "Source", "SourceError", "find_sources", "staging_pool"]
