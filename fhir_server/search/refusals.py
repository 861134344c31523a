"""The two ways a search parameter is refused that lenient handling may skip instead.

Both are `BadRequest` (400): under `Prefer: handling=lenient` the parser lists such parameters in
`ParsedQuery.ignored` rather than raising (https://hl7.org/fhir/R4/search.html#errors). Malformed
values are plain `BadRequest` and are never skipped.
"""

from __future__ import annotations

from fhir_server.errors import BadRequest

__all__ = ["UnknownParameter", "NotSupported"]


class UnknownParameter(BadRequest):
    """The name is no search parameter of the resource type."""


class NotSupported(BadRequest):
    """A valid parameter or modifier this server cannot search on."""

    code = "not-supported"
