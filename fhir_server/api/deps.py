"""What every route handler needs before it calls a service: the caller and the request's context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from fhir_server.context import Principal, RequestContext

__all__ = ["Authenticate", "RequestContextFactory", "CONTEXT_STATE"]

Authenticate = Callable[[Request], Awaitable[Principal]]
# where the request's context is kept (`scope["state"]`), for the audit to flush before the response
CONTEXT_STATE = "fhir_context"


class RequestContextFactory:
    """Builds the RequestContext of a request: its principal and the public base URL of /fhir."""

    def __init__(self, authenticate: Authenticate, base_url: str = "") -> None:
        self.authenticate = authenticate
        self.base_url = base_url

    def base(self, request: Request) -> str:
        return self.base_url or f"{request.url.scheme}://{request.url.netloc}/fhir"

    async def __call__(self, request: Request) -> RequestContext:
        principal = await self.authenticate(request)
        ctx = RequestContext(principal=principal, base_url=self.base(request),
                             request_id=request.headers.get("x-request-id", ""),
                             network_address=request.client.host if request.client else None)
        setattr(request.state, CONTEXT_STATE, ctx)
        return ctx
