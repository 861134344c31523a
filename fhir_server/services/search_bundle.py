"""The `searchset` Bundle of a search (https://hl7.org/fhir/R4/bundle.html, search.html#return).

Entries embed each resource's stored bytes as they are (`orjson.Fragment`), unless `_summary` or
`_elements` asked for part of it, in which case that part is serialised anew. Matches have
`search.mode` `match`, `_include`/`_revinclude`d resources `include`, and warnings (parameters
ignored under `Prefer: handling=lenient`) come as an OperationOutcome entry with mode `outcome`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from fhir_server.context import RequestContext
from fhir_server.errors import Issue, operation_outcome
from fhir_server.services.elements import select_elements, summarize
from fhir_server.storage.instants import now_micros, to_instant
from fhir_server.storage.repository import CurrentRow
from resources import fhir_json

__all__ = ["Links", "Shaping", "shaping", "searchset", "page_url"]

Shaping = Callable[[dict[str, Any]], dict[str, Any]] | None


@dataclass(frozen=True, slots=True)
class Links:
    self: str
    next: str | None = None
    previous: str | None = None

    def to_json(self) -> list[dict[str, str]]:
        links = [{"relation": "self", "url": self.self}]
        if self.next:
            links.append({"relation": "next", "url": self.next})
        if self.previous:
            links.append({"relation": "previous", "url": self.previous})
        return links


def page_url(ctx: RequestContext, path: str, params: Sequence[tuple[str, str]], cursor: str | None) -> str:
    """The URL of a page of this search: the criteria and result parameters, with `_cursor` if any."""
    pairs = [(name, value) for name, value in params if name != "_cursor"]
    if cursor:
        pairs.append(("_cursor", cursor))
    url = f"{ctx.base_url}/{path}" if path else ctx.base_url
    return f"{url}?{urlencode(pairs)}" if pairs else url


def shaping(summary: str | None, elements: Sequence[str]) -> Shaping:
    """The reshaping `_summary` / `_elements` ask for, or None to serve the stored bytes."""
    if elements:
        joined = ",".join(elements)
        return lambda resource: select_elements(resource, joined)
    if summary in ("true", "text", "data"):
        mode = summary
        return lambda resource: summarize(resource, mode)
    return None


def _resource(row: CurrentRow, shape: Shaping) -> Any:
    body = row.body or b"{}"
    if shape is None:
        return orjson.Fragment(body)
    shaped = shape(fhir_json.loads(body))  # type: ignore[arg-type]
    return orjson.Fragment(fhir_json.dumps(shaped))


def _entry(ctx: RequestContext, row: CurrentRow, mode: str, shape: Shaping) -> dict[str, Any]:
    return {"fullUrl": ctx.full_url(row.res_type, row.res_id), "resource": _resource(row, shape),
            "search": {"mode": mode}}


def searchset(ctx: RequestContext, *, matches: Sequence[CurrentRow], included: Sequence[CurrentRow],
              total: int | None, links: Links, shape: Shaping, issues: Sequence[Issue] = ()) -> bytes:
    """The Bundle as JSON bytes."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": to_instant(now_micros())},
        "type": "searchset",
    }
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links.to_json()
    entries = [_entry(ctx, row, "match", shape) for row in matches]
    entries.extend(_entry(ctx, row, "include", shape) for row in included)
    if issues:
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": operation_outcome(list(issues)),
                        "search": {"mode": "outcome"}})
    if entries:
        bundle["entry"] = entries
    return orjson.dumps(bundle)
