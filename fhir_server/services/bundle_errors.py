"""Naming the entry a Bundle failed on: every issue's expression and diagnostics point into the Bundle
(`Bundle.entry[3].resource.name[0].family`), so a client can tell which of its entries to fix."""

from __future__ import annotations

from fhir_server.errors import BadRequest, FhirError, Issue

__all__ = ["at_entry", "no_such_entry"]


def no_such_entry(reference: str) -> BadRequest:
    """A temporary id (`urn:uuid:…`) that no entry of the transaction has as its fullUrl."""
    return BadRequest(f"the reference '{reference}' names no entry of the transaction (no fullUrl is that URL)")


def _expression(path: str, where: str, res_type: str | None) -> str:
    if path.startswith("Bundle.entry["):
        return path
    if res_type and (path == res_type or path.startswith(res_type + ".")):
        return f"{where}.resource{path[len(res_type):]}"
    return f"{where}.{path}"


def at_entry(error: FhirError, index: int, res_type: str | None = None) -> FhirError:
    """The same error (same class, status, code and headers), its issues placed at `Bundle.entry[index]`."""
    where = f"Bundle.entry[{index}]"
    issues = []
    for issue in error.issues:
        expression = tuple(_expression(path, where, res_type) for path in issue.expression) or (where,)
        diagnostics = issue.diagnostics if issue.diagnostics.startswith(where) else f"{where}: {issue.diagnostics}"
        issues.append(Issue(issue.code, diagnostics, issue.severity, expression))
    diagnostics = error.diagnostics if error.diagnostics.startswith(where) else f"{where}: {error.diagnostics}"
    named = type(error)(diagnostics, code=error.code, issues=issues, headers=error.headers)
    named.status = error.status
    return named
