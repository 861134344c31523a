"""Composition root for everything but HTTP: builds the engine, keyring, store and services from Settings.

The HTTP app (`fhir_server.app`), the job worker, the HL7 gateway and the CLI all start here, so
they share one way of wiring validation, indexing, storage and encryption.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from conformance import OperationSupport, ResourceValidation, ServerSupport, capability_statement
from fhir_server import analytics as mortality
from fhir_server import bulk
from fhir_server.config import Settings
from fhir_server.db import migrate, terminology_content
from fhir_server.db.engine import create_engine
from fhir_server.importer.operation import KIND as IMPORT_KIND
from fhir_server.importer.operation import ImportOperation
from fhir_server.jobs import Handler, JobQueue, Worker
from fhir_server.operations import validate as validate_operation
from fhir_server.operations.registry import OperationRegistry
from fhir_server.plugins import load_plugins
from fhir_server.search import SearchRegistry
from fhir_server.security import attach_search, build_access
from fhir_server.services import BundleService, HistoryService, ResourceService, Services
from fhir_server.services.access import AccessGuard
from fhir_server.services.audit import AUDIT_MATERIALIZE, AuditTrail
from fhir_server.services.bundles import search_port
from fhir_server.services.search import SearchService
from fhir_server.services.search_parameters import REINDEX, SearchParameters
from fhir_server.services.terminology import TerminologyService, load_content
from fhir_server.storage.crypto import Keyring
from fhir_server.storage.driver import create_pg_pool
from fhir_server.storage.keys import open_keyring, verify_keyring
from fhir_server.storage.positions import Positions
from fhir_server.storage.repository import ResourceStore
from fhir_server.storage.statistics import StatisticsKeeper
from fhir_server.wiring import (
    build_indexer,
    build_matcher,
    build_validator,
    search_registry,
    search_support,
    warm_up,
)
from resources import RESOURCE_TYPES
from terminology import TerminologyStore, content

__all__ = ["Runtime", "start_runtime", "prepare_database", "check_terminology", "SOFTWARE_NAME", "software_version"]

log = logging.getLogger("fhir_server")
SOFTWARE_NAME = "fhir-server"


def software_version() -> str:
    try:
        return version("fhir-server")
    except PackageNotFoundError:
        return "0.0.0"


class StartupError(Exception):
    """The server cannot start as configured; the message says what to do."""


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    keyring: Keyring
    store: ResourceStore
    services: Services
    jobs: JobQueue
    # job kind -> handler; each capability that runs in the background registers its kinds here
    job_handlers: dict[str, Handler] = field(default_factory=dict)
    bulk_exports: bulk.BulkExports | None = None
    analytics: mortality.MortalityAnalytics | None = None
    # the access policy and audit trail every service asks (built with the services)
    access: AccessGuard | None = None
    audit: AuditTrail | None = None
    terminology: TerminologyService | None = None
    statistics: StatisticsKeeper | None = None

    def worker(self, *, slots: int = 2) -> Worker:
        return Worker(self.jobs, self.job_handlers, slots=slots)

    async def close(self) -> None:
        if self.statistics is not None:
            await self.statistics.close()
        if self.terminology is not None:
            await self.terminology.close()
        if self.audit is not None:
            await self.audit.close()
            if self.audit.commit_pool is not None:
                await self.audit.commit_pool.close()
        if self.store.pg_pool is not None:
            await self.store.pg_pool.close()
        await self.engine.dispose()


async def prepare_database(settings: Settings) -> None:
    """SQLite (the embedded default) migrates itself, terminology content included; PostgreSQL must have
    been migrated explicitly (its terminology content is checked as each runtime reads it, and by
    `check_terminology` before the server's processes start)."""
    url = settings.sqlalchemy_url
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(migrate.upgrade, url)
        return
    current, head = await asyncio.to_thread(migrate.current_revision, url), migrate.head_revision()
    if current != head:
        raise StartupError(f"the database is at schema revision {current or 'none'}, the server needs {head}: "
                           "run `fhir-server migrate` first")


async def check_terminology(settings: Settings) -> None:
    """StartupError unless the database holds this release's terminology content whole: for the CLI,
    which says so once before it starts any process (each runtime checks what it reads, too)."""
    _check_terminology(await asyncio.to_thread(terminology_content.loaded, settings.sqlalchemy_url))


def _check_terminology(release: str | None) -> None:
    """The database must hold the terminology content this server ships: it never falls back to the
    package files, so every process serves the same content."""
    if release is None:
        raise StartupError("the database holds no terminology content (code systems, value sets, concept "
                           "maps): run `fhir-server migrate` to load it")
    if release != content.release():
        raise StartupError("the database holds the terminology content of another release than this server "
                           "ships: run `fhir-server migrate` to bring it up to date")


async def _shipped_terminology(store: ResourceStore) -> TerminologyStore:
    """The shipped terminology content, read from the database where `fhir-server migrate` loaded it."""
    release, resources = await load_content(store)
    _check_terminology(release if resources else None)
    return TerminologyStore(resources, bundled=False)


def _capability_statement(settings: Settings, operations: OperationRegistry,
                          registry: SearchRegistry | None = None) -> bytes:
    """What the server supports; `registry` is the runtime's, with the custom SearchParameters stored
    in its database (those created later appear at the next start)."""
    types = sorted(RESOURCE_TYPES)
    params, common, includes, revincludes = search_support(registry)
    support = ServerSupport(
        software_name=SOFTWARE_NAME,
        software_version=software_version(),
        resource_types=types,
        type_interactions=("read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                           "create", *(("search-type",) if params else ())),
        system_interactions=("history-system", *(("search-system",) if params else ()), "transaction", "batch"),
        search_params=params,
        common_search_params=common,
        search_include=includes,
        search_rev_include=revincludes,
        operations=[
            OperationSupport(name=op.code, definition=op.definition["url"], system=bool(op.definition.get("system")),
                             resource_types=op.definition.get("resource", []) if op.definition.get("type") or
                             op.definition.get("instance") else [])
            for op in operations.all()
        ],
        implementation_url=settings.base_url or None,
    )
    return orjson.dumps(capability_statement(support))


def _operations(resources: ResourceService, terminology: TerminologyService,
                settings: Settings, exports: bulk.BulkExports | None = None,
                analytics: mortality.MortalityAnalytics | None = None) -> OperationRegistry:
    """Every $operation served through the generic operation routes, with its OperationDefinition."""
    registry = OperationRegistry(resources.access)
    # `$validate` checks more than a write does: the R4B model layer whatever the writes run
    registry.register(validate_operation.DEFINITION, validate_operation.ValidateOperation(
        resources, build_validator(), ResourceValidation(member=terminology.value_set_member)))
    terminology.register_operations(registry, settings.base_url or None)
    if exports is not None:
        for definition in bulk.DEFINITIONS:
            registry.register(definition, bulk.ExportOperation(exports))
    if analytics is not None:
        registry.register(mortality.EVALUATE_MEASURE, mortality.EvaluateMeasureOperation(analytics))
        registry.register(mortality.MORTALITY, mortality.MortalityOperation(analytics))
    return registry


async def start_runtime(settings: Settings) -> Runtime:
    await prepare_database(settings)
    # on PostgreSQL the SQLAlchemy pool serves only administrative paths; units of work use the asyncpg pool
    engine = create_engine(settings.sqlalchemy_url,
                           pool_size=settings.database_pool_size if settings.is_sqlite else 2)
    try:
        keyring = await open_keyring(settings, engine)
        await verify_keyring(engine, keyring)
    except Exception:
        await engine.dispose()
        raise
    pg_pool = None if settings.is_sqlite else await create_pg_pool(
        settings.driver_dsn, size=settings.database_pool_size,
        max_parallel_workers_per_gather=str(settings.database_parallel_workers))
    store = ResourceStore(engine, keyring, pg_pool=pg_pool)
    try:
        shipped = await _shipped_terminology(store)
    except BaseException:
        if pg_pool is not None:
            await pg_pool.close()
        await engine.dispose()
        raise
    # this runtime's own search registry: the custom SearchParameters stored in its database extend it
    registry = search_registry().copy()
    validator, indexer = build_validator(with_models=settings.validation_r4b_models), build_indexer(registry)
    warm_up(validator, indexer)
    access = build_access(store, indexer, audit=None, linkage_cache_seconds=settings.auth_linkage_cache_seconds,
                          server_name=SOFTWARE_NAME, row_codes=registry.row_codes)
    resources = ResourceService(store=store, validator=validator, indexer=indexer, matcher=build_matcher(registry),
                                access=access)
    jobs = JobQueue(store)
    search_parameters = SearchParameters(store=store, registry=registry, jobs=jobs)
    await search_parameters.load()
    resources.subscribe(search_parameters.on_change)
    terminology = TerminologyService(store=store, resources=resources, terminology=shipped)
    search = SearchService(store=store, registry=registry, parameters=search_parameters,
                           default_count=settings.default_page_size, max_count=settings.max_page_size,
                           access=access, codes=terminology)
    attach_search(access, search)
    await terminology.load_stored()
    resources.subscribe(terminology.on_change)
    terminology.follow(settings.terminology_poll_seconds)  # what other processes write
    resources.matcher.codes = terminology  # conditional writes' `:in`, `:below`...
    exports = bulk.BulkExports(store=store, registry=registry, jobs=jobs,
                               config=bulk.BulkConfig.in_data_dir(settings.data_dir))
    exports.planner.codes = terminology
    analytics = mortality.MortalityAnalytics(store=store, resources=resources, jobs=jobs, guard=mortality.RoleGuard())
    resources.subscribe(analytics.projection.on_change)
    operations = _operations(resources, terminology, settings, exports, analytics)
    services = Services(
        resources=resources,
        history=HistoryService(store=store, default_count=settings.default_page_size,
                               max_count=settings.max_page_size, access=access),
        capability_statement=_capability_statement(settings, operations, registry),
        search=search,
        operations=operations,
        terminology_capabilities=lambda: terminology.capabilities(
            software_name=SOFTWARE_NAME, software_version=software_version(),
            implementation_url=settings.base_url or None),
        bundles=BundleService(resources=resources, search=search_port(search),
                              max_entries=settings.max_bundle_entries, imports=ImportOperation(
            resources=resources, jobs=jobs, positions=Positions(store), root=settings.data_dir / "import")),
    )
    runtime = Runtime(settings, engine, keyring, store, services, jobs)
    runtime.terminology = terminology
    runtime.job_handlers[REINDEX] = search_parameters.reindex
    runtime.job_handlers[IMPORT_KIND] = services.bundles.imports.step
    runtime.job_handlers.update(exports.job_handlers())
    runtime.job_handlers[mortality.REBUILD] = analytics.rebuild
    runtime.bulk_exports, runtime.analytics = exports, analytics
    runtime.access = access
    audit_pool = None if settings.is_sqlite else await create_pg_pool(settings.driver_dsn, size=2,
                                                                      synchronous_commit="off")
    audit = AuditTrail(store=store, resources=resources, jobs=jobs, commit_pool=audit_pool)
    runtime.job_handlers[AUDIT_MATERIALIZE] = audit.materialize
    await audit.start()
    access.audit = runtime.audit = audit

    async def record(event: dict[str, Any]) -> None:
        audit.record_soon([event])  # also called inside the export job's own transaction

    exports.audit.sink = record  # kick-offs, completions and downloads of bulk exports
    if pg_pool is not None:
        runtime.statistics = StatisticsKeeper(settings.driver_dsn, settings.database_analyze_seconds)
        runtime.statistics.start()
    await load_plugins(runtime, capability_statement=lambda: _capability_statement(settings, operations, registry))
    return runtime
