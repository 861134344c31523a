"""`$import` over HTTP with the Bulk Data asynchronous request pattern
(https://hl7.org/fhir/uv/bulkdata/async.html); the operation lives in `fhir_server.importer.operation`.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fhir_server.api.deps import RequestContextFactory
from fhir_server.api.negotiation import negotiate, read_body
from fhir_server.api.outcomes import outcome_response
from fhir_server.errors import Issue, NotFound
from fhir_server.services import Services
from resources import fhir_json

__all__ = ["ImportRoutes"]


class ImportRoutes:
    def __init__(self, services: Services, *, context: RequestContextFactory, max_body_bytes: int) -> None:
        self.services = services
        self._context = context
        self.max_body_bytes = max_body_bytes

    def routes(self) -> list[Route]:
        return [
            Route("/fhir/$import", self.kick_off, methods=["POST"]),
            Route("/fhir/$import-status/{import_id}", self.status, methods=["GET", "DELETE"]),
        ]

    @property
    def _operation(self):  # type: ignore[no-untyped-def]
        return self.services.bundles.imports

    async def kick_off(self, request: Request) -> Response:
        negotiate(request)
        ctx = await self._context(request)
        parameters = fhir_json.loads(await read_body(request, self.max_body_bytes))
        import_id = await self._operation.kick_off(ctx, parameters)
        location = f"{ctx.base_url}/$import-status/{import_id}"
        return outcome_response(202, [Issue("informational", f"import {import_id} accepted; poll {location}",
                                            severity="information")], {"content-location": location})

    async def status(self, request: Request) -> Response:
        ctx = await self._context(request)
        raw = request.path_params["import_id"]
        if not raw.isdigit():
            raise NotFound(f"there is no import {raw}")
        if request.method == "DELETE":
            await self._operation.cancel(ctx, int(raw))
            return outcome_response(202, [Issue("informational", f"import {raw} is being cancelled",
                                                severity="information")])
        status = await self._operation.status(ctx, int(raw))
        if status.state == "in-progress":
            return Response(status_code=202, headers={"x-progress": status.progress, "retry-after": "1"})
        if status.state == "failed":
            error = (status.result or {}).get("error", "the import failed")
            return outcome_response(500, [Issue("exception", f"import {raw} failed: {error}")],
                                    {"x-progress": status.progress})
        return Response(orjson.dumps(status.result), status_code=200,
                        headers={"content-type": "application/json", "x-progress": status.progress})
