"""Routes of `$operations` at system, type and instance level (https://hl7.org/fhir/R4/operations.html).

These routes go last in the app: a capability that serves an operation with a route of its own
(e.g. `$import`) is matched before them. `definition_routes()` goes before the REST routes: it serves
`GET /fhir/OperationDefinition/[id]` for the definitions of the operations themselves (the
CapabilityStatement's `operation.definition`), and leaves every other id to the stored resources.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from fhir_server.api.deps import RequestContextFactory
from fhir_server.api.negotiation import negotiate, read_body
from fhir_server.api.responses import fhir_response
from fhir_server.errors import BadRequest
from fhir_server.operations.parameters import parse_parameters_body, parse_query_parameters
from fhir_server.operations.registry import OperationCall, OperationRegistry
from resources import fhir_json

__all__ = ["OperationRoutes"]

FORM = "application/x-www-form-urlencoded"


class OperationConvertor(Convertor[str]):
    regex = r"\$[A-Za-z][A-Za-z0-9\-]*"

    def convert(self, value: str) -> str:
        return value[1:]

    def to_string(self, value: str) -> str:
        return "$" + value


register_url_convertor("operation", OperationConvertor())


class _ServedDefinitionRoute(Route):
    """Matches only the ids `served` answers for, so other OperationDefinitions are read from storage."""

    def __init__(self, path: str, endpoint: Callable[..., Any], served: Callable[[str], bool]) -> None:
        super().__init__(path, endpoint, methods=["GET"])
        self._served = served

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE or not self._served(child["path_params"]["res_id"]):
            return Match.NONE, {}
        return match, child


class OperationRoutes:
    def __init__(self, registry: OperationRegistry, *, context: RequestContextFactory, max_body_bytes: int) -> None:
        self.registry = registry
        self._context = context
        self.max_body_bytes = max_body_bytes

    def routes(self) -> list[Route]:
        methods = ["GET", "POST"]
        return [
            Route("/fhir/{op:operation}", self.invoke, methods=methods),
            Route("/fhir/{res_type:type}/{op:operation}", self.invoke, methods=methods),
            Route("/fhir/{res_type:type}/{res_id:id}/{op:operation}", self.invoke, methods=methods),
        ]

    def definition_routes(self) -> list[Route]:
        return [_ServedDefinitionRoute("/fhir/OperationDefinition/{res_id:id}", self.definition,
                                       lambda res_id: self.registry.definition(res_id) is not None)]

    async def definition(self, request: Request) -> Response:
        """An operation's OperationDefinition: public, like the CapabilityStatement that points at it."""
        definition = self.registry.definition(request.path_params["res_id"])
        return fhir_response(fhir_json.dumps(definition), negotiate(request))

    async def invoke(self, request: Request) -> Response:
        negotiated = negotiate(request)
        ctx = await self._context(request)
        params = request.path_params
        res_type, res_id = params.get("res_type"), params.get("res_id")
        level = "instance" if res_id else "type" if res_type else "system"
        operation = self.registry.find(params["op"], level, res_type, request.method)
        definition = operation.definition
        body_resource = None
        pairs = list(request.query_params.multi_items())
        if request.method == "POST":
            content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if content_type == FORM:
                body = await read_body(request, self.max_body_bytes, allowed={FORM})
                pairs += parse_qsl(body.decode(), keep_blank_values=True)
                inputs = parse_query_parameters(pairs, definition)
            else:
                body = fhir_json.loads(await read_body(request, self.max_body_bytes))
                if isinstance(body, dict) and body.get("resourceType") == "Parameters":
                    inputs = parse_parameters_body(body)
                    extra = parse_query_parameters(pairs, definition)
                    for name, entries in extra.entries.items():
                        inputs.entries.setdefault(name, []).extend(entries)
                elif isinstance(body, dict):
                    body_resource = body
                    inputs = parse_query_parameters(pairs, definition)
                else:
                    raise BadRequest("the body of an operation must be a Parameters resource or a FHIR resource")
        else:
            inputs = parse_query_parameters(pairs, definition)
        inputs.check(definition)
        call = OperationCall(name=params["op"], level=level, method=request.method, inputs=inputs, res_type=res_type,
                             res_id=res_id, body_resource=body_resource, headers=dict(request.headers))
        result = await self.registry.run(operation, ctx, call)
        if result.resource is None:
            return Response(status_code=result.status, headers=result.headers)
        body_bytes = result.resource if isinstance(result.resource, bytes) else fhir_json.dumps(result.resource)
        return fhir_response(body_bytes, negotiated, status=result.status, headers=result.headers)

