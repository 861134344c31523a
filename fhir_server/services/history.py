"""The history interaction at instance, type and system level (https://hl7.org/fhir/R4/http.html#history).

Newest versions first, paged by an opaque keyset cursor on (lastUpdated, version pk), so pages stay
stable while new versions are written. The Bundle embeds the stored bytes of each version as they
are, without parsing them again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson

from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, Forbidden, NotFound
from fhir_server.search.dates import parse_date_range
from fhir_server.services.access import AccessGuard, fail_closed_guard
from fhir_server.services.paging import decode_cursor, encode_cursor
from fhir_server.services.resources import require_type
from fhir_server.storage.instants import now_micros, to_instant
from fhir_server.storage.repository import HistoryQuery, ResourceStore, VersionRow
from resources import fhir_json

__all__ = ["HistoryService", "HistoryRequest"]

STATUS = {"POST": "201 Created", "PUT": "200 OK", "PATCH": "200 OK", "DELETE": "204 No Content"}


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    res_type: str | None = None
    res_id: str | None = None
    since: str | None = None
    at: str | None = None
    count: int | None = None
    page: str | None = None


class HistoryService:
    def __init__(self, *, store: ResourceStore, default_count: int = 20, max_count: int = 1000,
                 access: AccessGuard | None = None) -> None:
        self.store = store
        self.default_count = default_count
        self.max_count = max_count
        self.access = access or fail_closed_guard()

    async def history(self, ctx: RequestContext, request: HistoryRequest) -> bytes:
        """The history Bundle, as JSON bytes."""
        if request.res_type is not None:
            require_type(request.res_type)
        interaction = ("history-instance" if request.res_id is not None else
                       "history-type" if request.res_type is not None else "history-system")
        self.access.check(ctx, interaction, request.res_type, instance=request.res_id is not None,
                          res_id=request.res_id)
        count = self._count(request.count)
        query = HistoryQuery(
            res_type=request.res_type,
            res_id=request.res_id,
            since=self._instant("_since", request.since)[0] if request.since else None,
            at=self._instant("_at", request.at) if request.at else None,
            before=self._position(request.page),
            limit=count + 1,
        )
        async with self.store.read() as tx:
            if request.res_id is not None:
                current = await self.store.current(tx, request.res_type or "", request.res_id)
                if current is None:
                    raise NotFound(f"{request.res_type}/{request.res_id} is not known")
                if not ctx.principal.unrestricted and current.body is not None:
                    await self.access.check_resource(ctx, "history-instance", fhir_json.loads(current.body))
            rows = await self.store.history(tx, query)
        page, more = rows[:count], len(rows) > count
        shown = page if ctx.principal.unrestricted else [row for row in page if await self._visible(ctx, row)]
        self.access.read(ctx, interaction, request.res_type, request.res_id,
                         query=self._link(ctx, request, count, request.page))
        links = [{"relation": "self", "url": self._link(ctx, request, count, request.page)}]
        if more:
            last = page[-1]
            links.append({"relation": "next",
                          "url": self._link(ctx, request, count, encode_cursor([last.last_updated, last.pk]))})
        bundle = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": to_instant(now_micros())},
            "type": "history",
            "link": links,
            "entry": [self._entry(ctx, row) for row in shown],
        }
        return orjson.dumps(bundle)

    async def _visible(self, ctx: RequestContext, row: VersionRow) -> bool:
        """Whether a restricted caller may see this history entry: the version itself must be within
        what its token allows (a deletion, which has no content to tell by, is left out)."""
        if row.body is None:
            return False
        try:
            await self.access.policy.check_resource(ctx.principal, "read", fhir_json.loads(row.body))
        except Forbidden:
            return False
        return True

    def _count(self, count: int | None) -> int:
        if count is None:
            return self.default_count
        if count < 1:
            raise BadRequest("_count must be a positive integer")
        return min(count, self.max_count)

    @staticmethod
    def _instant(name: str, text: str) -> tuple[int, int]:
        try:
            return parse_date_range(text)
        except ValueError as exc:
            raise BadRequest(f"{name}: {exc}") from exc

    @staticmethod
    def _position(page: str | None) -> tuple[int, int] | None:
        if page is None:
            return None
        position = decode_cursor(page)
        if not (isinstance(position, list) and len(position) == 2 and all(isinstance(p, int) for p in position)):
            raise BadRequest(f"'{page}' is not a history page cursor")
        return position[0], position[1]

    @staticmethod
    def _link(ctx: RequestContext, request: HistoryRequest, count: int, page: str | None) -> str:
        path = "/".join(part for part in (request.res_type, request.res_id) if part)
        params: list[tuple[str, str]] = [("_count", str(count))]
        if request.since:
            params.append(("_since", request.since))
        if request.at:
            params.append(("_at", request.at))
        if page:
            params.append(("_page", page))
        return f"{ctx.base_url}/{path + '/' if path else ''}_history?{urlencode(params)}"

    @staticmethod
    def _entry(ctx: RequestContext, row: VersionRow) -> dict[str, object]:
        url = row.res_type if row.method == "POST" else f"{row.res_type}/{row.res_id}"
        status = STATUS[row.method]
        if row.method == "PUT" and row.version_id == 1:
            status = "201 Created"
        entry: dict[str, object] = {"fullUrl": ctx.full_url(row.res_type, row.res_id)}
        if row.body is not None:
            entry["resource"] = orjson.Fragment(row.body)
        entry["request"] = {"method": row.method, "url": url}
        entry["response"] = {"status": status, "etag": f'W/"{row.version_id}"',
                             "lastModified": to_instant(row.last_updated)}
        return entry
