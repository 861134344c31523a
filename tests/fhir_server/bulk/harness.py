"""An HTTP app over a real runtime for the bulk export and analytics tests, with a choice of caller.

The routes are the server's own (FHIR REST, the generic operation routes, the bulk and dashboard
routes); only authentication differs: `x-test-client` / `x-test-role` / `x-test-scopes` headers
name the caller (none: the dev principal), standing in for the SMART tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request

from fhir_server.api.bulk_routes import BulkRoutes
from fhir_server.api.dashboard_routes import DashboardRoutes
from fhir_server.api.deps import RequestContextFactory
from fhir_server.api.operation_routes import OperationRoutes
from fhir_server.api.outcomes import EXCEPTION_HANDLERS
from fhir_server.api.routes import FhirRoutes
from fhir_server.bootstrap import Runtime, start_runtime
from fhir_server.config import Settings
from fhir_server.context import DEV_PRINCIPAL, Principal

FHIR_JSON = {"content-type": "application/fhir+json"}
ASYNC = {"prefer": "respond-async", "accept": "application/fhir+json"}


async def authenticate(request: Request) -> Principal:
    client = request.headers.get("x-test-client")
    if client is None:
        return DEV_PRINCIPAL
    scopes = frozenset(request.headers.get("x-test-scopes", "system/*.read").split())
    return Principal(subject=f"user-{client}", role=request.headers.get("x-test-role", "system"), scopes=scopes,
                     client_id=client)


def caller(client: str, role: str = "system", scopes: str = "system/*.read") -> dict[str, str]:
    return {"x-test-client": client, "x-test-role": role, "x-test-scopes": scopes}


@dataclass
class Harness:
    http: httpx.AsyncClient
    runtime: Runtime

    async def run_jobs(self) -> int:
        return await self.runtime.worker(slots=1).run_until_idle()

    def tune(self, **changes: Any) -> None:
        """Change the bulk export configuration (slice sizes, polling interval...)."""
        exports = self.runtime.bulk_exports
        assert exports is not None
        exports.config = replace(exports.config, **changes)
        exports.runner.config = exports.config
        exports.throttle.min_interval = exports.config.poll_min_interval

    async def put(self, resource: dict[str, Any]) -> None:
        response = await self.http.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource,
                                       headers=FHIR_JSON)
        assert response.status_code in (200, 201), response.text

    async def export(self, path: str = "/fhir/$export", headers: dict[str, str] | None = None,
                     **params: Any) -> str:
        """Kick off, run the worker, return the status URL (path only)."""
        response = await self.http.get(path, params=params, headers={**ASYNC, **(headers or {})})
        assert response.status_code == 202, response.text
        location = response.headers["content-location"]
        await self.run_jobs()
        return location.removeprefix("http://testserver")

    async def manifest(self, status_url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self.http.get(status_url, headers=headers or {})
        assert response.status_code == 200, response.text
        return response.json()

    async def lines(self, manifest: dict[str, Any], res_type: str | None = None, key: str = "output",
                    headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
        import orjson

        out = []
        for item in manifest.get(key, []):
            if res_type is None or item["type"] == res_type:
                response = await self.http.get(item["url"].removeprefix("http://testserver"), headers=headers or {})
                assert response.status_code == 200, response.text
                out.extend(orjson.loads(line) for line in response.content.splitlines() if line)
        return out


@asynccontextmanager
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    runtime = await start_runtime(settings)
    context = RequestContextFactory(authenticate)
    routes = [
        *BulkRoutes(lambda: runtime.bulk_exports, context=context).routes(),  # type: ignore[arg-type,return-value]
        *DashboardRoutes(lambda: runtime.analytics, context=context).routes(),  # type: ignore[arg-type,return-value]
        *FhirRoutes(runtime.services, context=context, max_body_bytes=settings.max_body_bytes).routes(),
        *OperationRoutes(runtime.services.operations, context=context, max_body_bytes=settings.max_body_bytes).routes(),
    ]
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            h = Harness(http, runtime)
            h.tune(poll_min_interval=0.0)
            yield h
    finally:
        await runtime.close()
