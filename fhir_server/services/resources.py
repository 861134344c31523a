"""The FHIR instance and type interactions: create, read, vread, update, patch, delete, and their
conditional forms (https://hl7.org/fhir/R4/http.html).

Each write runs in one transaction: the resource row, its version row, its search index rows and
its change event commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError

from fhir_server.context import RequestContext
from fhir_server.errors import (
    BadRequest,
    Gone,
    MultipleMatches,
    NotFound,
    PreconditionFailed,
)
from fhir_server.services.outcome import ResourceVersion, WriteResult
from fhir_server.services.patch import apply_patch
from fhir_server.services.ports import Change, ChangeSubscriber, Indexer, Matcher, Validator
from fhir_server.services.preparation import check_id, check_shape, check_valid, stamp
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import ConcurrentWrite, CurrentRow, ResourceStore, Tx
from resources import fhir_json, is_resource_type

__all__ = ["ResourceService"]

T = TypeVar("T")
Criteria = Sequence[tuple[str, str]]
RETRIES = 5
# PostgreSQL: serialization failure, deadlock
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def require_type(res_type: str) -> str:
    if not is_resource_type(res_type):
        raise NotFound(f"'{res_type}' is not a FHIR R4 resource type this server knows", code="not-supported")
    return res_type


def _version(row: CurrentRow, *, version_id: int | None = None, last_updated: int | None = None,
             body: bytes | None = None, deleted: bool | None = None) -> ResourceVersion:
    return ResourceVersion(row.res_type, row.res_id, version_id or row.version_id, last_updated or row.last_updated,
                           row.deleted if deleted is None else deleted, body if body is not None else row.body)


class ResourceService:
    def __init__(self, *, store: ResourceStore, validator: Validator, indexer: Indexer, matcher: Matcher,
                 max_conditional_deletes: int = 100) -> None:
        self.store = store
        self.validator = validator
        self.indexer = indexer
        self.matcher = matcher
        self.max_conditional_deletes = max_conditional_deletes
        self.subscribers: list[ChangeSubscriber] = []

    def subscribe(self, subscriber: ChangeSubscriber) -> None:
        """Call `subscriber` inside the transaction of every write (create, update, patch, delete)."""
        self.subscribers.append(subscriber)

    async def _changed(self, tx: Tx, action: str, res_type: str, res_id: str, version_id: int,
                       resource: dict[str, Any] | None, at: int) -> None:
        await self.store.record_change(tx, res_type=res_type, res_id=res_id, version_id=version_id,
                                       action=action, at=at)
        if self.subscribers:
            change = Change(action, res_type, res_id, version_id, resource)
            for subscriber in self.subscribers:
                await subscriber(tx, change)

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, ctx: RequestContext, res_type: str, res_id: str) -> ResourceVersion:
        require_type(res_type)
        row = await self.store.read_current(res_type, res_id)
        if row is None:
            raise NotFound(f"{res_type}/{res_id} is not known")
        if row.deleted:
            raise Gone(f"{res_type}/{res_id} was deleted", headers={"ETag": f'W/"{row.version_id}"'})
        return _version(row)

    async def vread(self, ctx: RequestContext, res_type: str, res_id: str, version_id: str) -> ResourceVersion:
        require_type(res_type)
        if not version_id.isdigit():
            raise NotFound(f"{res_type}/{res_id} has no version '{version_id}'")
        row = await self.store.version(res_type, res_id, int(version_id))
        if row is None:
            raise NotFound(f"{res_type}/{res_id} has no version {version_id}")
        if row.deleted:
            raise Gone(f"version {version_id} of {res_type}/{res_id} is its deletion")
        return ResourceVersion(row.res_type, row.res_id, row.version_id, row.last_updated, False, row.body)

    # -- create --------------------------------------------------------------------------------

    async def create(self, ctx: RequestContext, res_type: str, resource: Any, *,
                     if_none_exist: Criteria | None = None) -> WriteResult:
        require_type(res_type)
        resource = check_shape(resource, res_type)
        issues = check_valid(self.validator, resource)
        res_id = str(uuid.uuid4())
        (body, last_updated), stamped = self._stamp(resource, res_id, 1)
        rows = self.indexer(stamped)

        async def attempt() -> WriteResult:
            async with self.store.write() as tx:
                if if_none_exist:
                    await self._serialize_on(tx, res_type, if_none_exist)
                    matches = await self.matcher(tx, res_type, if_none_exist)
                    if len(matches) > 1:
                        raise MultipleMatches(
                            f"If-None-Exist matched {len(matches)} {res_type} resources; the criteria are not selective enough")
                    if matches:
                        existing = await self.store.current(tx, res_type, matches[0][1])
                        assert existing is not None
                        return WriteResult(_version(existing), created=False, changed=False, issues=issues)
                pk = await self.store.insert(tx, res_type=res_type, res_id=res_id, body=body,
                                                last_updated=last_updated, method="POST")
                await self.store.write_index(tx, pk, res_type, rows, replace=False)
                await self._changed(tx, "create", res_type, res_id, 1, stamped, last_updated)
            return WriteResult(ResourceVersion(res_type, res_id, 1, last_updated, False, body),
                               created=True, issues=issues)

        return await self._with_retries(attempt)

    # -- update --------------------------------------------------------------------------------

    async def update(self, ctx: RequestContext, res_type: str, res_id: str, resource: Any, *,
                     if_match: int | None = None) -> WriteResult:
        require_type(res_type)
        check_id(res_id)
        resource = check_shape(resource, res_type)
        body_id = resource.get("id")
        if body_id is None:
            raise BadRequest(f"the resource must carry id '{res_id}' to be updated at {res_type}/{res_id}")
        if body_id != res_id:
            raise BadRequest(f"the resource id '{body_id}' does not match the id '{res_id}' in the URL")
        issues = check_valid(self.validator, resource)
        return await self._with_retries(lambda: self._update_once(res_type, res_id, resource, if_match, issues))

    async def _update_once(self, res_type: str, res_id: str, resource: dict[str, Any], if_match: int | None,
                           issues: list[Any], tx: Tx | None = None) -> WriteResult:
        if tx is None:
            async with self.store.write() as own:
                return await self._update_once(res_type, res_id, resource, if_match, issues, own)
        current = await self.store.current(tx, res_type, res_id, for_update=True)
        if current is None:
            if if_match is not None:
                raise PreconditionFailed(f"{res_type}/{res_id} does not exist, so If-Match cannot hold")
            (body, last_updated), stamped = self._stamp(resource, res_id, 1)
            pk = await self.store.insert(tx, res_type=res_type, res_id=res_id, body=body,
                                            last_updated=last_updated, method="PUT")
            await self.store.write_index(tx, pk, res_type, self.indexer(stamped), replace=False)
            await self._changed(tx, "create", res_type, res_id, 1, stamped, last_updated)
            return WriteResult(ResourceVersion(res_type, res_id, 1, last_updated, False, body), created=True,
                               issues=issues)
        self._check_if_match(current, if_match)
        return await self._write_next(tx, current, resource, "PUT", issues, created=current.deleted)

    async def _write_next(self, tx: Tx, current: CurrentRow, resource: dict[str, Any], method: str,
                          issues: list[Any], *, created: bool = False) -> WriteResult:
        version_id = current.version_id + 1
        (body, last_updated), stamped = self._stamp(resource, current.res_id, version_id)
        await self.store.replace(tx, current, body=body, last_updated=last_updated, method=method)
        await self.store.write_index(tx, current.pk, current.res_type, self.indexer(stamped), replace=True)
        await self._changed(tx, "update", current.res_type, current.res_id, version_id, stamped, last_updated)
        return WriteResult(ResourceVersion(current.res_type, current.res_id, version_id, last_updated, False, body),
                           created=created, issues=issues)

    async def conditional_update(self, ctx: RequestContext, res_type: str, criteria: Criteria, resource: Any, *,
                                 if_match: int | None = None) -> WriteResult:
        """PUT [type]?[criteria] (https://hl7.org/fhir/R4/http.html#cond-update)."""
        require_type(res_type)
        resource = check_shape(resource, res_type)
        issues = check_valid(self.validator, resource)
        body_id = resource.get("id")

        async def attempt() -> WriteResult:
            async with self.store.write() as tx:
                await self._serialize_on(tx, res_type, criteria)
                matches = await self.matcher(tx, res_type, criteria)
                if len(matches) > 1:
                    raise MultipleMatches(f"the criteria matched {len(matches)} {res_type} resources; "
                                          "a conditional update needs at most one")
                if not matches:
                    target_id = check_id(body_id) if body_id is not None else str(uuid.uuid4())
                    return await self._update_once(res_type, target_id, resource, if_match, issues, tx)
                match_id = matches[0][1]
                if body_id is not None and body_id != match_id:
                    raise BadRequest(f"the resource id '{body_id}' differs from the matching {res_type}/{match_id}")
                return await self._update_once(res_type, match_id, resource, if_match, issues, tx)

        return await self._with_retries(attempt)

    # -- patch ---------------------------------------------------------------------------------

    async def patch(self, ctx: RequestContext, res_type: str, res_id: str, patch: Any, *,
                    content_type: str, if_match: int | None = None) -> WriteResult:
        require_type(res_type)

        async def attempt() -> WriteResult:
            async with self.store.write() as tx:
                return await self._patch_in(tx, res_type, res_id, patch, content_type, if_match)

        return await self._with_retries(attempt)

    async def conditional_patch(self, ctx: RequestContext, res_type: str, criteria: Criteria, patch: Any, *,
                                content_type: str, if_match: int | None = None) -> WriteResult:
        require_type(res_type)

        async def attempt() -> WriteResult:
            async with self.store.write() as tx:
                matches = await self.matcher(tx, res_type, criteria)
                if not matches:
                    raise NotFound(f"no {res_type} matches the criteria of the conditional patch")
                if len(matches) > 1:
                    raise MultipleMatches(f"the criteria matched {len(matches)} {res_type} resources; "
                                          "a conditional patch needs exactly one")
                return await self._patch_in(tx, res_type, matches[0][1], patch, content_type, if_match)

        return await self._with_retries(attempt)

    async def _patch_in(self, tx: Tx, res_type: str, res_id: str, patch: Any, content_type: str,
                        if_match: int | None) -> WriteResult:
        current = await self.store.current(tx, res_type, res_id, for_update=True)
        if current is None:
            raise NotFound(f"{res_type}/{res_id} is not known")
        if current.deleted:
            raise Gone(f"{res_type}/{res_id} was deleted")
        self._check_if_match(current, if_match)
        assert current.body is not None
        patched = apply_patch(fhir_json.loads(current.body), patch, content_type)
        if patched.get("resourceType") != res_type or patched.get("id") != res_id:
            raise BadRequest("a patch may not change the resourceType or id of a resource", code="processing")
        issues = check_valid(self.validator, patched)
        return await self._write_next(tx, current, patched, "PATCH", issues)

    # -- delete --------------------------------------------------------------------------------

    async def delete(self, ctx: RequestContext, res_type: str, res_id: str, *,
                     if_match: int | None = None) -> WriteResult:
        require_type(res_type)

        async def attempt() -> WriteResult:
            async with self.store.write() as tx:
                current = await self.store.current(tx, res_type, res_id, for_update=True)
                if current is None or current.deleted:
                    if if_match is not None:
                        raise PreconditionFailed(f"{res_type}/{res_id} does not exist, so If-Match cannot hold")
                    return WriteResult(None, changed=False)
                self._check_if_match(current, if_match)
                return await self._delete_row(tx, current)

        return await self._with_retries(attempt)

    async def conditional_delete(self, ctx: RequestContext, res_type: str, criteria: Criteria) -> list[WriteResult]:
        """DELETE [type]?[criteria]: deletes every match, up to `max_conditional_deletes` (else 412)."""
        require_type(res_type)
        if not criteria:
            raise BadRequest("a conditional delete needs search criteria")

        async def attempt() -> list[WriteResult]:
            async with self.store.write() as tx:
                matches = await self.matcher(tx, res_type, criteria)
                if len(matches) > self.max_conditional_deletes:
                    raise MultipleMatches(
                        f"the criteria matched {len(matches)} {res_type} resources, more than the "
                        f"{self.max_conditional_deletes} one conditional delete may remove")
                results = []
                for _, match_id in matches:
                    current = await self.store.current(tx, res_type, match_id, for_update=True)
                    if current is not None and not current.deleted:
                        results.append(await self._delete_row(tx, current))
                return results

        return await self._with_retries(attempt)

    async def _delete_row(self, tx: Tx, current: CurrentRow) -> WriteResult:
        last_updated = now_micros()
        version_id = await self.store.replace(tx, current, body=None, last_updated=last_updated, method="DELETE")
        await self.store.write_index(tx, current.pk, current.res_type, {}, replace=True)
        await self._changed(tx, "delete", current.res_type, current.res_id, version_id, None, last_updated)
        return WriteResult(ResourceVersion(current.res_type, current.res_id, version_id, last_updated, True, None))

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _stamp(resource: dict[str, Any], res_id: str, version_id: int) -> tuple[tuple[bytes, int], dict[str, Any]]:
        last_updated = now_micros()
        stamped = stamp(resource, res_id=res_id, version_id=version_id, last_updated=last_updated)
        return (fhir_json.dumps(stamped), last_updated), stamped

    @staticmethod
    def _check_if_match(current: CurrentRow, if_match: int | None) -> None:
        if if_match is not None and (current.deleted or if_match != current.version_id):
            raise PreconditionFailed(
                f"If-Match asked for version {if_match} of {current.res_type}/{current.res_id}, "
                f"but the current version is {current.version_id}"
            )

    async def _serialize_on(self, tx: Tx, res_type: str, criteria: Criteria) -> None:
        """Make concurrent conditional writes with the same criteria take turns (PostgreSQL).

        Without this two transactions could both see no match and both create. SQLite needs nothing:
        its write transactions already run one at a time.
        """
        if self.store.is_sqlite:
            return
        key = res_type + "?" + "&".join(f"{name}={value}" for name, value in sorted(criteria))
        await tx.db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)

    @staticmethod
    async def _with_retries(attempt: Callable[[], Awaitable[T]]) -> T:
        for remaining in range(RETRIES, 0, -1):
            try:
                return await attempt()
            except (IntegrityError, ConcurrentWrite):
                # a concurrent create of the same id, or an update that lost a race: try again on fresh state
                if remaining == 1:
                    raise
            except DBAPIError as exc:
                sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
                if sqlstate not in RETRYABLE_SQLSTATES or remaining == 1:
                    raise
        raise AssertionError("unreachable")
