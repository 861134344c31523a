"""The FHIR REST routes under /fhir: HTTP in, a service call, HTTP out (https://hl7.org/fhir/R4/http.html).

Handlers only translate: query parameters and headers into service arguments, results and
FhirErrors into responses. All FHIR behaviour lives in `fhir_server.services`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import fhir_server.api.convertors  # noqa: F401 - registers the {res_type:type} and {res_id:id} convertors
from fhir_server.api.deps import RequestContextFactory
from fhir_server.api.negotiation import (
    FHIR_JSON,
    if_modified_since,
    negotiate,
    parse_etag,
    parse_prefer,
    read_body,
)
from fhir_server.api.responses import fhir_response, resource_response, write_response
from fhir_server.errors import BadRequest, Issue, operation_outcome
from fhir_server.services import HistoryRequest, Services
from fhir_server.services.elements import select_elements, summarize
from fhir_server.services.patch import JSON_PATCH
from resources import fhir_json

__all__ = ["FhirRoutes"]

# parameters that shape the response, never criteria of a conditional interaction
RESULT_PARAMETERS = frozenset({"_format", "_pretty", "_summary", "_elements"})


class FhirRoutes:
    def __init__(self, services: Services, *, context: RequestContextFactory, max_body_bytes: int,
                 security: Callable[[str], dict[str, Any]] | None = None) -> None:
        self.services = services
        self._context = context
        self.max_body_bytes = max_body_bytes
        # the CapabilityStatement's `rest.security` for a base URL (the OAuth endpoints are absolute)
        self.security = security
        self._statements: dict[str, bytes] = {}

    def routes(self) -> list[Route]:
        # `{res_type:type}` and `{res_id:id}` never match `_search`, `_history` or `$operation`
        # segments, so the routes of searches and operations in other modules are reached
        return [
            Route("/fhir/metadata", self.capabilities, methods=["GET"]),
            Route("/fhir/_history", self.history_system, methods=["GET"]),
            Route("/fhir/{res_type:type}", self.type_level, methods=["POST", "PUT", "PATCH", "DELETE"]),
            Route("/fhir/{res_type:type}/_history", self.history_type, methods=["GET"]),
            Route("/fhir/{res_type:type}/{res_id:id}", self.instance_level, methods=["GET", "PUT", "PATCH", "DELETE"]),
            Route("/fhir/{res_type:type}/{res_id:id}/_history", self.history_instance, methods=["GET"]),
            Route("/fhir/{res_type:type}/{res_id:id}/_history/{version_id}", self.vread, methods=["GET"]),
        ]

    # -- plumbing ------------------------------------------------------------------------------

    async def _json_body(self, request: Request) -> object:
        return fhir_json.loads(await read_body(request, self.max_body_bytes))

    @staticmethod
    def _criteria(request: Request) -> list[tuple[str, str]]:
        return [(k, v) for k, v in request.query_params.multi_items() if k not in RESULT_PARAMETERS]

    # -- capabilities --------------------------------------------------------------------------

    async def capabilities(self, request: Request) -> Response:
        negotiated = negotiate(request)
        if request.query_params.get("mode") == "terminology" and self.services.terminology_capabilities:
            return fhir_response(self.services.terminology_capabilities(), negotiated)
        return fhir_response(self._statement(self._context.base(request)), negotiated)

    def _statement(self, base: str) -> bytes:
        if self.security is None:
            return self.services.capability_statement
        statement = self._statements.get(base)
        if statement is None:
            parsed = fhir_json.loads(self.services.capability_statement)
            for rest in parsed.get("rest", ()):
                rest["security"] = self.security(base)
            statement = fhir_json.dumps(parsed)
            if len(self._statements) < 16:  # a handful of public names at most; never grow without bound
                self._statements[base] = statement
        return statement

    # -- instance level ------------------------------------------------------------------------

    async def instance_level(self, request: Request) -> Response:
        method = request.method
        if method == "GET":
            return await self.read(request)
        if method == "PUT":
            return await self.update(request)
        if method == "PATCH":
            return await self.patch(request)
        return await self.delete(request)

    async def read(self, request: Request) -> Response:
        negotiated = negotiate(request)
        ctx = await self._context(request)
        params = request.path_params
        version = await self.services.resources.read(ctx, params["res_type"], params["res_id"])
        headers = request.headers
        if_none_match = headers.get("if-none-match")
        if if_none_match is not None and parse_etag(if_none_match, "If-None-Match") == version.version_id:
            return Response(status_code=304, headers={"etag": version.etag})
        modified_since = if_modified_since(headers.get("if-modified-since"))
        if modified_since is not None and version.last_updated // 1_000_000 <= modified_since:
            return Response(status_code=304, headers={"etag": version.etag})
        return resource_response(version, negotiated, transform=self._shaping(request))

    @staticmethod
    def _shaping(request: Request) -> Callable[[dict], dict] | None:
        summary = request.query_params.get("_summary")
        elements = request.query_params.get("_elements")
        if summary and elements:
            raise BadRequest("_summary and _elements cannot be used together")
        if summary and summary != "false":
            if summary == "count":
                raise BadRequest("_summary=count applies to searches, not to reading one resource")
            return lambda resource: summarize(resource, summary)
        if elements:
            return lambda resource: select_elements(resource, elements)
        if summary == "false":
            return None
        return None

    async def vread(self, request: Request) -> Response:
        negotiated = negotiate(request)
        ctx = await self._context(request)
        params = request.path_params
        version = await self.services.resources.vread(ctx, params["res_type"], params["res_id"], params["version_id"])
        return resource_response(version, negotiated, transform=self._shaping(request))

    async def update(self, request: Request) -> Response:
        negotiated, prefer = negotiate(request), parse_prefer(request.headers.get("prefer"))
        ctx = await self._context(request)
        params = request.path_params
        resource = await self._json_body(request)
        result = await self.services.resources.update(
            ctx, params["res_type"], params["res_id"], resource, if_match=parse_etag(request.headers.get("if-match")))
        return write_response(result, prefer, negotiated, ctx.base_url, informational="updated")

    async def patch(self, request: Request) -> Response:
        negotiated, prefer = negotiate(request), parse_prefer(request.headers.get("prefer"))
        ctx = await self._context(request)
        params = request.path_params
        content_type = request.headers.get("content-type", "")
        patch = fhir_json.loads(await read_body(request, self.max_body_bytes, allowed={JSON_PATCH, FHIR_JSON}))
        result = await self.services.resources.patch(
            ctx, params["res_type"], params["res_id"], patch, content_type=content_type,
            if_match=parse_etag(request.headers.get("if-match")))
        return write_response(result, prefer, negotiated, ctx.base_url, informational="patched")

    async def delete(self, request: Request) -> Response:
        negotiate(request)
        prefer = parse_prefer(request.headers.get("prefer"))
        ctx = await self._context(request)
        params = request.path_params
        result = await self.services.resources.delete(
            ctx, params["res_type"], params["res_id"], if_match=parse_etag(request.headers.get("if-match")))
        headers = {"etag": result.version.etag} if result.version else {}
        return self._deleted(prefer, headers, "deleted" if result.changed else "nothing to delete")

    @staticmethod
    def _deleted(prefer: object, headers: dict[str, str], text: str) -> Response:
        if getattr(prefer, "return_", "") == "OperationOutcome":
            body = fhir_json.dumps(operation_outcome([Issue("informational", text, severity="information")]))
            return Response(body, status_code=200,
                            headers={**headers, "content-type": "application/fhir+json; charset=utf-8"})
        return Response(status_code=204, headers=headers)

    # -- type level ----------------------------------------------------------------------------

    async def type_level(self, request: Request) -> Response:
        method = request.method
        negotiated, prefer = negotiate(request), parse_prefer(request.headers.get("prefer"))
        ctx = await self._context(request)
        res_type = request.path_params["res_type"]
        if method == "POST":
            resource = await self._json_body(request)
            header = request.headers.get("if-none-exist")
            criteria = parse_qsl(header.removeprefix("?").split("?", 1)[-1], keep_blank_values=True) if header else None
            if header is not None and not criteria:
                raise BadRequest("If-None-Exist must carry search criteria such as identifier=...")
            result = await self.services.resources.create(ctx, res_type, resource, if_none_exist=criteria)
            return write_response(result, prefer, negotiated, ctx.base_url, informational="created")
        criteria = self._criteria(request)
        if not criteria:
            raise BadRequest(f"{method} [type] needs search criteria in the URL (a conditional {method.lower()})")
        if method == "PUT":
            resource = await self._json_body(request)
            result = await self.services.resources.conditional_update(
                ctx, res_type, criteria, resource, if_match=parse_etag(request.headers.get("if-match")))
            return write_response(result, prefer, negotiated, ctx.base_url, informational="updated")
        if method == "PATCH":
            content_type = request.headers.get("content-type", "")
            patch = fhir_json.loads(await read_body(request, self.max_body_bytes, allowed={JSON_PATCH, FHIR_JSON}))
            result = await self.services.resources.conditional_patch(
                ctx, res_type, criteria, patch, content_type=content_type,
                if_match=parse_etag(request.headers.get("if-match")))
            return write_response(result, prefer, negotiated, ctx.base_url, informational="patched")
        results = await self.services.resources.conditional_delete(ctx, res_type, criteria)
        return self._deleted(prefer, {}, f"deleted {len(results)} resource{'s' if len(results) != 1 else ''}")

    # -- history -------------------------------------------------------------------------------

    async def _history(self, request: Request, res_type: str | None, res_id: str | None) -> Response:
        negotiated = negotiate(request)
        ctx = await self._context(request)
        query = request.query_params
        count = query.get("_count")
        if count is not None and not count.isdigit():
            raise BadRequest(f"_count must be a positive integer, got '{count}'")
        known = {"_count", "_since", "_at", "_page", "_format", "_pretty"}
        unknown = [name for name in query if name not in known]
        if unknown:
            raise BadRequest(f"history does not support the parameter(s) {', '.join(sorted(unknown))}")
        body = await self.services.history.history(ctx, HistoryRequest(
            res_type=res_type, res_id=res_id, since=query.get("_since"), at=query.get("_at"),
            count=int(count) if count is not None else None, page=query.get("_page")))
        return fhir_response(body, negotiated)

    async def history_system(self, request: Request) -> Response:
        return await self._history(request, None, None)

    async def history_type(self, request: Request) -> Response:
        return await self._history(request, request.path_params["res_type"], None)

    async def history_instance(self, request: Request) -> Response:
        return await self._history(request, request.path_params["res_type"], request.path_params["res_id"])
