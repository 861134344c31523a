"""The search routes (https://hl7.org/fhir/R4/http.html#search): HTTP in, `SearchService` out.

    GET  /fhir/{type}?...                  POST /fhir/{type}/_search   (form body merged with the URL's)
    GET  /fhir/Patient/{id}/{type|*}?...   POST /fhir/Patient/{id}/{type|*}/_search
    GET  /fhir?_type=...                   POST /fhir/_search
    POST /fhir/$reindex                    POST /fhir/{type}/$reindex  (queue a reindex job; 202)

Starlette tries routes in order: `early_routes()` go before the CRUD routes (whose `POST /fhir/{type}`
would take `/fhir/_search` for a create), `routes()` after them (whose `GET /fhir/{type}` would
otherwise take `/fhir/metadata`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fhir_server.api.deps import RequestContextFactory
from fhir_server.api.negotiation import negotiate, parse_prefer
from fhir_server.api.responses import fhir_response
from fhir_server.errors import BadRequest, Issue, PayloadTooLarge, UnsupportedMediaType, operation_outcome
from fhir_server.services import Services
from fhir_server.services.search import SearchRequest
from resources import fhir_json

__all__ = ["SearchRoutes"]

FORM = "application/x-www-form-urlencoded"


class SearchRoutes:
    def __init__(self, services: Services, *, context: RequestContextFactory, max_body_bytes: int) -> None:
        self.services = services
        self._context = context
        self.max_body_bytes = max_body_bytes

    def early_routes(self) -> list[Route]:
        return [
            Route("/fhir/_search", self.system_post, methods=["POST"]),
            Route("/fhir/$reindex", self.reindex, methods=["POST"]),
            Route("/fhir/{res_type}/_search", self.type_post, methods=["POST"]),
            Route("/fhir/{res_type}/$reindex", self.reindex, methods=["POST"]),
            Route("/fhir/{comp_type}/{comp_id}/{res_type}/_search", self.compartment_post, methods=["POST"]),
        ]

    def routes(self) -> list[Route]:
        return [
            Route("/fhir", self.system_get, methods=["GET"]),
            Route("/fhir/{res_type}", self.type_get, methods=["GET"]),
            Route("/fhir/{comp_type}/{comp_id}/{res_type}", self.compartment_get, methods=["GET"]),
        ]

    # -- plumbing ------------------------------------------------------------------------------

    async def _form(self, request: Request) -> list[tuple[str, str]]:
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media and media != FORM:
            raise UnsupportedMediaType(f"POST _search takes a form ({FORM}), not '{media}'")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body_bytes:
                raise PayloadTooLarge(f"the form is over the limit of {self.max_body_bytes:,} bytes")
        try:
            return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise BadRequest("the form body is not UTF-8") from exc

    async def _search(self, request: Request, res_type: str | None, compartment: tuple[str, str] | None,
                      form: list[tuple[str, str]] | None = None) -> Response:
        negotiated = negotiate(request)
        prefer = parse_prefer(request.headers.get("prefer"))
        ctx = await self._context(request)
        params = [*request.query_params.multi_items(), *(form or [])]
        if res_type == "*":
            res_type = None
        body = await self.services.search.search(ctx, SearchRequest(
            res_type, params, compartment=compartment, lenient=prefer.handling == "lenient"))
        return fhir_response(body, negotiated)

    # -- handlers ------------------------------------------------------------------------------

    async def type_get(self, request: Request) -> Response:
        return await self._search(request, request.path_params["res_type"], None)

    async def type_post(self, request: Request) -> Response:
        return await self._search(request, request.path_params["res_type"], None, await self._form(request))

    async def system_get(self, request: Request) -> Response:
        return await self._search(request, None, None)

    async def system_post(self, request: Request) -> Response:
        return await self._search(request, None, None, await self._form(request))

    async def compartment_get(self, request: Request) -> Response:
        params = request.path_params
        return await self._search(request, params["res_type"], (params["comp_type"], params["comp_id"]))

    async def compartment_post(self, request: Request) -> Response:
        params = request.path_params
        return await self._search(request, params["res_type"], (params["comp_type"], params["comp_id"]),
                                  await self._form(request))

    async def reindex(self, request: Request) -> Response:
        negotiated = negotiate(request)
        ctx = await self._context(request)
        res_type = request.path_params.get("res_type")
        job = await self.services.search.reindex(ctx, res_type)
        text = f"reindex of {res_type or 'every resource type'} queued as job {job}"
        body = fhir_json.dumps(operation_outcome([Issue("informational", text, severity="information")]))
        return fhir_response(body, negotiated, status=202)
