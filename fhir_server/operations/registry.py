"""The operations the server offers: each is one module with its `OperationDefinition` and a handler.

A handler is `async (ctx, call) -> OperationResult`. The registry answers which operation serves
`$name` at system, type or instance level for a resource type, and lists them all for the
CapabilityStatement and for serving their OperationDefinitions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fhir_server.context import RequestContext
from fhir_server.errors import MethodNotAllowed, NotFound
from fhir_server.operations.parameters import OperationInput
from fhir_server.services.access import AccessGuard, fail_closed_guard

__all__ = ["OperationCall", "OperationResult", "Operation", "OperationRegistry", "Level"]

Level = str  # "system" | "type" | "instance"


@dataclass(frozen=True, slots=True)
class OperationCall:
    name: str
    level: Level
    method: str
    inputs: OperationInput
    res_type: str | None = None
    res_id: str | None = None
    # the raw body when it is a resource rather than Parameters (e.g. POST [type]/$validate with a Patient)
    body_resource: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OperationResult:
    """`resource` is returned as the body (a dict, or already-serialised JSON bytes); None: no body."""

    resource: dict[str, Any] | bytes | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RequestContext, OperationCall], Awaitable[OperationResult]]


@dataclass(frozen=True, slots=True)
class Operation:
    definition: dict[str, Any]
    handler: Handler

    @property
    def code(self) -> str:
        return self.definition["code"]

    @property
    def affects_state(self) -> bool:
        return bool(self.definition.get("affectsState", False))

    def serves(self, level: Level, res_type: str | None) -> bool:
        definition = self.definition
        if level == "system":
            return bool(definition.get("system"))
        if not definition.get("type" if level == "type" else "instance"):
            return False
        types = definition.get("resource", [])
        return not types or "Resource" in types or res_type in types


class OperationRegistry:
    def __init__(self, access: AccessGuard | None = None) -> None:
        self._by_code: dict[str, list[Operation]] = {}
        self.access = access or fail_closed_guard()

    def register(self, definition: dict[str, Any], handler: Handler) -> None:
        self._by_code.setdefault(definition["code"], []).append(Operation(definition, handler))

    def find(self, code: str, level: Level, res_type: str | None, method: str) -> Operation:
        candidates = self._by_code.get(code)
        if not candidates:
            raise NotFound(f"this server has no operation ${code}", code="not-supported")
        for operation in candidates:
            if operation.serves(level, res_type):
                if method == "GET" and operation.affects_state:
                    raise MethodNotAllowed(f"${code} changes data, so it must be invoked with POST")
                return operation
        where = {"system": "at the system level", "type": f"on {res_type}", "instance": f"on a {res_type} instance"}
        raise NotFound(f"${code} is not available {where[level]}", code="not-supported")

    async def run(self, operation: Operation, ctx: RequestContext, call: OperationCall) -> OperationResult:
        """Run the operation once the access policy allows it (the data it reads is checked again by
        the interactions it uses); the call is audited."""
        name = f"${operation.code}"
        self.access.check(ctx, "operation", call.res_type, operation=name, instance=call.res_id is not None,
                          res_id=call.res_id)
        result = await operation.handler(ctx, call)
        self.access.read(ctx, "operation", call.res_type, call.res_id, operation=name)
        return result

    def all(self) -> list[Operation]:
        return [operation for operations in self._by_code.values() for operation in operations]

    def definition(self, definition_id: str) -> dict[str, Any] | None:
        for operation in self.all():
            if operation.definition.get("id") == definition_id:
                return operation.definition
        return None
