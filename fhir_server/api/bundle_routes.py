"""`POST /fhir` with a batch or transaction Bundle (https://hl7.org/fhir/R4/http.html#transaction).

HTTP in, `BundleService.process`, HTTP out; every FHIR rule lives in `fhir_server.services.bundles`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fhir_server.api.deps import RequestContextFactory
from fhir_server.api.negotiation import negotiate, parse_prefer, read_body
from fhir_server.api.responses import fhir_response
from fhir_server.services import Services
from resources import fhir_json

__all__ = ["BundleRoutes"]


class BundleRoutes:
    def __init__(self, services: Services, *, context: RequestContextFactory, max_body_bytes: int) -> None:
        self.services = services
        self._context = context
        self.max_body_bytes = max_body_bytes

    def routes(self) -> list[Route]:
        return [Route("/fhir", self.process, methods=["POST"]), Route("/fhir/", self.process, methods=["POST"])]

    async def process(self, request: Request) -> Response:
        negotiated, prefer = negotiate(request), parse_prefer(request.headers.get("prefer"))
        ctx = await self._context(request)
        bundle = fhir_json.loads(await read_body(request, self.max_body_bytes))
        body = await self.services.bundles.process(ctx, bundle, prefer_return=prefer.return_)
        return fhir_response(body, negotiated)
