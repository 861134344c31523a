"""The Bulk Data status and file endpoints (https://hl7.org/fhir/uv/bulkdata/export.html); the kick-off
is the `$export` operation (`fhir_server.bulk.export_operation`) on the generic operation routes.

    GET    [base]/$export-status/[id]          202 + X-Progress + Retry-After | 200 manifest | 500 outcome
                                               (429 + Retry-After when polled too soon)
    DELETE [base]/$export-status/[id]          202: cancelled, its files deleted; later requests 404
    GET    [base]/$export-file/[id]/[name]     the NDJSON file (application/fhir+ndjson)
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from fhir_server.api.deps import RequestContextFactory
from fhir_server.api.outcomes import outcome_response
from fhir_server.bulk import BulkExports
from fhir_server.errors import Issue, NotAcceptable
from fhir_server.storage.instants import to_http_date

__all__ = ["BulkRoutes", "NDJSON"]

NDJSON = "application/fhir+ndjson"
_ACCEPTED = {"application/fhir+ndjson", "application/ndjson", "application/x-ndjson", "*/*", "application/*",
             "text/*", "text/plain"}


class BulkRoutes:
    def __init__(self, exports: Callable[[], BulkExports], *, context: RequestContextFactory) -> None:
        self._exports = exports
        self._context = context

    def routes(self) -> list[Route]:
        return [
            Route("/fhir/$export-status/{export_id}", self.status, methods=["GET", "DELETE"]),
            Route("/fhir/$export-file/{export_id}/{name}", self.file, methods=["GET"]),
        ]

    async def status(self, request: Request) -> Response:
        ctx = await self._context(request)
        export_id = request.path_params["export_id"]
        exports = self._exports()
        if request.method == "DELETE":
            await exports.cancel(ctx.principal, export_id)
            return outcome_response(202, [Issue("informational", f"export {export_id} cancelled and its files deleted",
                                                severity="information")])
        status = await exports.status(ctx.principal, export_id, ctx.base_url)
        if status.state == "in-progress":
            return Response(status_code=202, headers={"x-progress": status.progress,
                                                      "retry-after": str(status.retry_after)})
        if status.state == "failed":
            return outcome_response(500, [Issue("exception", f"export {export_id} failed: {status.error}")])
        headers = {"content-type": "application/json"}
        if status.expires_at is not None:
            headers["expires"] = to_http_date(status.expires_at)
        return Response(orjson.dumps(status.manifest), status_code=200, headers=headers)

    async def file(self, request: Request) -> Response:
        accept = request.headers.get("accept")
        if accept and not any(part.split(";")[0].strip().lower() in _ACCEPTED for part in accept.split(",")):
            raise NotAcceptable(f"export files are {NDJSON}; Accept asked for {accept}")
        ctx = await self._context(request)
        path = await self._exports().file(ctx.principal, request.path_params["export_id"], request.path_params["name"])
        return FileResponse(path, media_type=NDJSON, headers={"cache-control": "no-store"})
