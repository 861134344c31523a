"""Batch and transaction Bundles: `POST [base]` (https://hl7.org/fhir/R4/http.html#transaction).

A transaction runs all its entries in one database transaction through the same service code as the
single interactions (`bundle_transaction.TransactionRun`): it commits whole or not at all, and a
failing entry fails it with that entry's status and an OperationOutcome naming it. A batch runs each
entry on its own; each gets its own status and OperationOutcome.

The entries' resources are validated before any transaction opens, so an invalid Bundle never takes
a lock; every invalid entry is reported, not just the first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fhir_server.context import RequestContext
from fhir_server.errors import FhirError, Issue
from fhir_server.services.bundle_entries import BundleEntry, phase_order, read_entries
from fhir_server.services.bundle_errors import at_entry
from fhir_server.services.bundle_response import EntryOutcome, failed, response_bundle
from fhir_server.services.bundle_staging import plan_transaction
from fhir_server.services.bundle_transaction import BundleSearch, TransactionRun, named, read_outcome
from fhir_server.services.resources import ResourceService
from fhir_server.services.write_ops import Prepared

__all__ = ["BundleService", "BundleSearch", "MAX_ENTRIES", "search_port"]

log = logging.getLogger("fhir_server.bundles")
MAX_ENTRIES = 10_000  # the default of `Settings.max_bundle_entries`


def search_port(service: Any) -> BundleSearch:
    """GET [type]?[criteria] entries through the search interaction (a `SearchService`)."""
    from fhir_server.services.search import SearchRequest

    async def search(ctx: RequestContext, res_type: str, params: Sequence[tuple[str, str]]) -> bytes:
        return await service.search(ctx, SearchRequest(res_type, list(params)))

    return search


class BundleService:
    """`imports`: the bulk import operation (`$import`), which shares this service's place in
    `Services` (see `fhir_server.importer.operation`)."""

    def __init__(self, *, resources: ResourceService, search: BundleSearch | None = None,
                 max_entries: int = MAX_ENTRIES, imports: Any = None) -> None:
        self.resources = resources
        self.search = search
        self.max_entries = max_entries
        self.imports = imports

    async def process(self, ctx: RequestContext, bundle: Any, *, prefer_return: str = "representation") -> bytes:
        """The response Bundle (JSON bytes) of a batch or transaction Bundle."""
        kind, entries = read_entries(bundle, base_url=ctx.base_url, max_entries=self.max_entries)
        if kind == "transaction":
            outcomes = await self.transaction(ctx, entries)
        else:
            outcomes = await self.batch(ctx, entries)
        return response_bundle(ctx, f"{kind}-response", entries, outcomes, prefer_return)

    async def transaction(self, ctx: RequestContext, entries: list[BundleEntry]) -> dict[int, EntryOutcome]:
        plan = plan_transaction(self.resources, entries, self._prepare_all(entries), base_url=ctx.base_url,
                                bind_full_urls=True)
        run = TransactionRun(self.resources, ctx, phase_order(entries), plan.prepared, search=self.search,
                             bind_full_urls=True, assigned=plan.assigned)
        return await self.resources.run_in_transaction(run, serialized=run.serialized_criteria())

    async def batch(self, ctx: RequestContext, entries: list[BundleEntry]) -> dict[int, EntryOutcome]:
        outcomes: dict[int, EntryOutcome] = {}
        for entry in phase_order(entries):
            try:
                outcomes[entry.index] = await self._batch_entry(ctx, entry)
            except FhirError as exc:
                outcomes[entry.index] = failed(exc if exc.diagnostics.startswith(entry.where)
                                               else at_entry(exc, entry.index, entry.res_type))
            except Exception:
                log.exception("%s failed unexpectedly", entry.label)
                outcomes[entry.index] = EntryOutcome(500, issues=(Issue(
                    "exception", f"{entry.where}: the server met an unexpected error; it has been logged",
                    severity="fatal", expression=(entry.where,)),), error=True)
        return outcomes

    async def _batch_entry(self, ctx: RequestContext, entry: BundleEntry) -> EntryOutcome:
        if entry.method in ("GET", "HEAD"):
            # reads need no write transaction: the same read paths as GET over HTTP
            run = TransactionRun(self.resources, ctx, [entry], {}, search=self.search, bind_full_urls=False)
            with named(entry):
                if entry.res_id is None:
                    return await run.search_outcome(entry)
                if entry.version_id is not None:
                    version = await self.resources.vread(ctx, entry.res_type, entry.res_id, entry.version_id)
                else:
                    version = await self.resources.read(ctx, entry.res_type, entry.res_id)
            return read_outcome(entry, version)
        plan = plan_transaction(self.resources, [entry], self._prepare_all([entry]), base_url=ctx.base_url,
                                bind_full_urls=False)
        run = TransactionRun(self.resources, ctx, [entry], plan.prepared, search=self.search, bind_full_urls=False,
                             assigned=plan.assigned)
        return (await self.resources.run_in_transaction(run))[entry.index]

    def _prepare_all(self, entries: list[BundleEntry]) -> dict[int, Prepared]:
        """Validate the resource of every POST and PUT entry; fail with every invalid entry's issues."""
        prepared: dict[int, Prepared] = {}
        errors: list[FhirError] = []
        for entry in entries:
            if entry.method not in ("POST", "PUT"):
                continue
            try:
                if entry.method == "PUT" and entry.res_id is not None:
                    prepared[entry.index] = self.resources.prepare_update(entry.res_type, entry.res_id, entry.resource)
                else:
                    prepared[entry.index] = self.resources.prepare(entry.res_type, entry.resource)
            except FhirError as exc:
                errors.append(at_entry(exc, entry.index, entry.res_type))
        if errors:
            first = errors[0]
            if len(errors) > 1:
                issues = [issue for error in errors for issue in error.issues]
                summary = f"{first.diagnostics} (and {len(errors) - 1} more invalid entr{'ies' if len(errors) > 2 else 'y'})"
                raise type(first)(summary, code=first.code, issues=issues, headers=first.headers)
            raise first
        return prepared
