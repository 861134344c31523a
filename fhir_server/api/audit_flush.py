"""ASGI middleware: the AuditEvents of a request are durable before the first byte of its response.

The services note each read, search and operation on the request's context (writes record theirs
in their own transaction); this flushes them when the response starts, so nothing is served
unaudited. A request refused for want of a valid token (401) leaves a denial with no principal.
If the audit cannot be written, the response is not sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir_server.api.deps import CONTEXT_STATE
from fhir_server.services.access import AccessGuard

__all__ = ["AuditFlush"]

Scope = dict[str, Any]


class AuditFlush:
    def __init__(self, app: Any, guard: Callable[[], AccessGuard | None]) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_after_audit(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                await self._record(scope, message["status"])
            await send(message)

        await self.app(scope, receive, send_after_audit)

    async def _record(self, scope: Scope, status: int) -> None:
        guard = self.guard()
        if guard is None:
            return
        ctx = scope.get("state", {}).get(CONTEXT_STATE)
        if ctx is not None:
            await guard.flush(ctx)
        elif status == 401 and scope["path"].startswith("/fhir"):
            client = scope.get("client")
            await guard.unauthenticated(scope["method"], scope["path"], client[0] if client else None)
