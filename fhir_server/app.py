"""Composition root of the HTTP server: `create_app(settings)` builds the ASGI app.

Nothing is created at import time; the database, keyring and services are built in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fhir_server.api.audit_flush import AuditFlush
from fhir_server.api.bulk_routes import BulkRoutes
from fhir_server.api.bundle_routes import BundleRoutes
from fhir_server.api.dashboard_routes import DashboardRoutes
from fhir_server.api.deps import RequestContextFactory
from fhir_server.api.import_routes import ImportRoutes
from fhir_server.api.operation_routes import OperationRoutes
from fhir_server.api.routes import FhirRoutes
from fhir_server.api.search_routes import SearchRoutes
from fhir_server.api.smart_routes import SmartRoutes
from fhir_server.auth import AuthComponents, AuthSettings, Endpoints, security_block
from fhir_server.bootstrap import Runtime, start_runtime
from fhir_server.config import Settings
from fhir_server.context import DEV_PRINCIPAL, Principal
from fhir_server.embedded import embedded_components
from fhir_server.errors import ServiceUnavailable
from fhir_server.long_lived import freeze_startup_heap
from fhir_server.security import encounter_picker, patient_picker, supervised_patients
from fhir_server.services.access import AccessGuard

__all__ = ["create_app"]

log = logging.getLogger("fhir_server")
PURGE_SECONDS = 3600.0


class _LazyRegistry:
    """The operation registry of the runtime the lifespan builds (routes are made before it runs)."""

    def __init__(self, holder: dict[str, Runtime]) -> None:
        self._holder = holder

    def __getattr__(self, name: str) -> object:
        return getattr(self._holder["runtime"].services.operations, name)


async def start_auth(settings: Settings, runtime: Runtime) -> AuthComponents:
    """The authorization server on the runtime's store, keyring, search and audit trail."""
    search, access = runtime.services.search, runtime.access
    assert access is not None
    audit = runtime.audit

    async def audit_sink(event: dict[str, object]) -> None:
        if audit is not None:
            await audit.record([event])

    return await AuthComponents.start(
        settings=AuthSettings.from_settings(settings), uow=runtime.store, sealer=runtime.keyring,
        index_rows=runtime.services.resources.indexer, supervised_patients=supervised_patients(search),
        patient_picker=patient_picker(search, access), encounter_picker=encounter_picker(search, access),
        audit_sink=audit_sink, dev_principal=DEV_PRINCIPAL if settings.dev_mode else None)


async def _purge_periodically(auth: AuthComponents, every: float = PURGE_SECONDS) -> None:
    """Expired codes, refresh tokens, grants, launches and revocations go, hour by hour."""
    while True:
        await asyncio.sleep(every)
        try:
            await auth.purge_expired()
        except Exception:  # a database hiccup: the next round tries again
            log.exception("purging expired authorization records failed")


def create_app(settings: Settings) -> Starlette:
    holder: dict[str, Any] = {}

    async def authenticate(request: Request) -> Principal:
        auth = holder.get("auth")
        if auth is None:
            raise ServiceUnavailable("the server is starting")
        return await auth.authenticator(request)

    class LazyServices:
        """The routes are built before the lifespan runs; they reach the services through this."""

        def __getattr__(self, name: str) -> object:
            return getattr(holder["runtime"].services, name)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok" if "runtime" in holder else "starting"})

    context = RequestContextFactory(authenticate, settings.base_url)
    services = LazyServices()
    # one module of routes per capability; Starlette tries them in this order
    search = SearchRoutes(services, context=context, max_body_bytes=settings.max_body_bytes)  # type: ignore[arg-type]
    operations = OperationRoutes(_LazyRegistry(holder), context=context,  # type: ignore[arg-type]
                                 max_body_bytes=settings.max_body_bytes)
    routes = [
        *SmartRoutes(lambda: holder["auth"], base_url=settings.base_url).routes(),
        *search.early_routes(),
        *BundleRoutes(services, context=context, max_body_bytes=settings.max_body_bytes).routes(),  # type: ignore[arg-type]
        *ImportRoutes(services, context=context, max_body_bytes=settings.max_body_bytes).routes(),  # type: ignore[arg-type]
        *BulkRoutes(lambda: holder["runtime"].bulk_exports, context=context).routes(),  # type: ignore[arg-type,return-value]
        *DashboardRoutes(lambda: holder["runtime"].analytics, context=context).routes(),  # type: ignore[arg-type,return-value]
        *operations.definition_routes(),  # the operations' own OperationDefinitions, before stored ones
        *FhirRoutes(services, context=context, max_body_bytes=settings.max_body_bytes,  # type: ignore[arg-type]
                    security=lambda base: security_block(Endpoints(base))).routes(),
    ]
    # generic $operation routes go last: an operation with a route of its own is matched first
    routes += operations.routes()
    # search goes after them all: its GET /fhir/{type} and /fhir/{type}/{id}/{type} would match the rest
    routes += search.routes()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = await start_runtime(settings)
        holder["runtime"] = runtime
        try:
            holder["auth"] = await start_auth(settings, runtime)
        except BaseException:
            await runtime.close()
            raise
        freeze_startup_heap()
        app.state.runtime = runtime
        app.state.auth = holder["auth"]
        purger = asyncio.create_task(_purge_periodically(holder["auth"]))
        try:
            if settings.embedded:
                async with embedded_components(runtime) as names:
                    log.info("embedded components running: %s", ", ".join(names))
                    yield
            else:
                yield
        finally:
            purger.cancel()
            await holder["auth"].close()
            await runtime.close()

    from fhir_server.api.outcomes import EXCEPTION_HANDLERS

    def guard() -> AccessGuard | None:
        runtime = holder.get("runtime")
        return runtime.access if runtime is not None else None

    return Starlette(
        routes=[Route("/health", health, methods=["GET"]), *routes],
        middleware=[Middleware(AuditFlush, guard=guard)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )


def app_from_environment() -> Starlette:
    """uvicorn's factory: each worker process builds its app from the FHIR_* environment."""
    return create_app(Settings())
