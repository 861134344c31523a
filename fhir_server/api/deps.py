"""What every route handler needs before it calls a service: the caller and the request's context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from fhir_server.context import Principal, RequestContext

__all__ = ["Authenticate", "RequestContextFactory"]

Authenticate = Callable[[Request], Awaitable[Principal]]


class RequestContextFactory:
    """Builds the RequestContext of a request: its principal and the public base URL of /fhir."""

    def __init__(self, authenticate: Authenticate, base_url: str = "") -> None:
        self.authenticate = authenticate
        self.base_url = base_url

    async def __call__(self, request: Request) -> RequestContext:
        principal = await self.authenticate(request)
        base = self.base_url or f"{request.url.scheme}://{request.url.netloc}/fhir"
        return RequestContext(principal=principal, base_url=base, request_id=request.headers.get("x-request-id", ""))
