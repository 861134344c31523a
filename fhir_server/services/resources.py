"""The FHIR instance and type interactions: create, read, vread, update, patch, delete, and their
conditional forms (https://hl7.org/fhir/R4/http.html).

Each public method is one unit of work, retried on a lost race. Each has an `*_in(tx, ...)` twin that
runs inside a transaction the caller owns, which is how a transaction Bundle runs all its entries in
one database transaction. Every write ends in `write_many_in`: the resource rows, version rows,
search index rows and change events of a unit of work commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError

from fhir_server.auth.policy import AccessPolicy
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, FhirError, Gone, MultipleMatches, NotFound, PreconditionFailed
from fhir_server.ids import new_id
from fhir_server.services.access import AccessGuard, Written
from fhir_server.services.outcome import ResourceVersion, WriteResult
from fhir_server.services.patch import apply_patch
from fhir_server.services.ports import Change, ChangeSubscriber, Indexer, Matcher, Validator, announce
from fhir_server.services.preparation import check_id, check_shape, check_valid, stamp
from fhir_server.services.write_ops import (
    BatchWriteError,
    Create,
    Patch,
    Prepared,
    Put,
    Remove,
    Staged,
    WriteOp,
    prepare,
    stage,
)
from fhir_server.storage.batch import BatchStore, NewVersion
from fhir_server.storage.instants import now_micros
from fhir_server.storage.repository import (
    ConcurrentWrite,
    CurrentRow,
    ResourceStore,
    Tx,
    advisory_lock_id,
    advisory_locks,
)
from resources import fhir_json, is_resource_type

__all__ = ["ResourceService", "require_type"]

T = TypeVar("T")
Criteria = Sequence[tuple[str, str]]
RETRIES = 5
# PostgreSQL: serialization failure, deadlock
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
_INTERACTION_OF_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def require_type(res_type: str) -> str:
    if not is_resource_type(res_type):
        raise NotFound(f"'{res_type}' is not a FHIR R4 resource type this server knows", code="not-supported")
    return res_type


def _version(row: CurrentRow) -> ResourceVersion:
    return ResourceVersion(row.res_type, row.res_id, row.version_id, row.last_updated, row.deleted, row.body)


def _interaction(op: WriteOp, current: CurrentRow | None) -> str:
    """The interaction a write is, for the access policy: a PUT to an id with no live resource creates."""
    if isinstance(op, Create):
        return "create"
    if isinstance(op, Put):
        return "create" if current is None or current.deleted else "update"
    return "patch" if isinstance(op, Patch) else "delete"


def _unchanged(prepared: Prepared, current: CurrentRow) -> bool:
    """Whether an update says exactly what the current version says, byte for byte once stamped with
    that version's id and meta (see `Put.keep_unchanged`)."""
    if current.deleted or current.body is None:
        return False
    stamped = stamp(prepared.content(), res_id=current.res_id, version_id=current.version_id,
                    last_updated=current.last_updated)
    return fhir_json.dumps(stamped) == current.body


def _check_if_match(current: CurrentRow, if_match: int | None) -> None:
    if if_match is not None and (current.deleted or if_match != current.version_id):
        raise PreconditionFailed(
            f"If-Match asked for version {if_match} of {current.res_type}/{current.res_id}, "
            f"but the current version is {current.version_id}"
        )


class ResourceService:
    def __init__(self, *, store: ResourceStore, validator: Validator, indexer: Indexer, matcher: Matcher,
                 max_conditional_deletes: int = 100, access: AccessGuard | None = None) -> None:
        self.store = store
        # every interaction asks the access policy (unrestricted principals, i.e. dev mode, pass)
        self.access = access or AccessGuard(AccessPolicy(index_rows=indexer))
        self.batch = BatchStore(store)
        self.validator = validator
        self.indexer = indexer
        self.matcher = matcher
        self.max_conditional_deletes = max_conditional_deletes
        self.subscribers: list[ChangeSubscriber] = []

    def subscribe(self, subscriber: ChangeSubscriber) -> None:
        """Call `subscriber` inside the transaction of every write (create, update, patch, delete)."""
        self.subscribers.append(subscriber)

    # -- units of work -------------------------------------------------------------------------

    async def run_in_transaction(self, work: Callable[[Tx], Awaitable[T]], *,
                                 serialized: Sequence[tuple[str, Criteria]] = ()) -> T:
        """Run `work` in one write transaction; on a lost race (a concurrent create of the same id, a
        version changed underneath, a deadlock) run it again on fresh state, up to 5 times.
        `serialized`: the criteria of conditional writes `work` will make, whose turns
        (`serialize_many_in`) the transaction takes as it begins, in the same round trip."""
        locks = self._lock_keys(serialized)

        async def attempt() -> T:
            async with self.store.write(locks=locks) as tx:
                return await work(tx)

        return await self._with_retries(attempt)

    def prepare(self, res_type: str, resource: Any, *, validator: Validator | None = None) -> Prepared:
        """Check a resource for shape and validity before any transaction opens; `validator` replaces
        the service's own for a door that builds its resources itself (see `wiring.build_validator`)."""
        require_type(res_type)
        return prepare(validator or self.validator, res_type, resource)

    def prepare_update(self, res_type: str, res_id: str, resource: Any, *,
                       validator: Validator | None = None) -> Prepared:
        """As `prepare`, and the resource must carry the id of the URL it is PUT to."""
        require_type(res_type)
        check_id(res_id)
        resource = check_shape(resource, res_type)
        body_id = resource.get("id")
        if body_id is None:
            raise BadRequest(f"the resource must carry id '{res_id}' to be updated at {res_type}/{res_id}")
        if body_id != res_id:
            raise BadRequest(f"the resource id '{body_id}' does not match the id '{res_id}' in the URL")
        return Prepared(res_type, resource, check_valid(validator or self.validator, resource))

    def stage(self, resource: dict[str, Any], res_id: str, version_id: int = 1) -> Staged:
        return stage(self.indexer, resource, res_id, version_id)

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, ctx: RequestContext, res_type: str, res_id: str) -> ResourceVersion:
        require_type(res_type)
        self.access.check(ctx, "read", res_type, instance=True, res_id=res_id)
        version = self._readable(await self.store.read_current(res_type, res_id), res_type, res_id)
        return await self.reveal(ctx, "read", version)

    async def read_in(self, tx: Tx, ctx: RequestContext, res_type: str, res_id: str) -> ResourceVersion:
        require_type(res_type)
        self.access.check(ctx, "read", res_type, instance=True, res_id=res_id)
        version = self._readable(await self.store.current(tx, res_type, res_id), res_type, res_id)
        return await self.reveal(ctx, "read", version)

    async def read_many_in(self, tx: Tx, ctx: RequestContext,
                           keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ResourceVersion]:
        """The current versions of the (type, id) `keys` that exist and are not deleted, in one
        statement; each is checked and audited as `read_in` does. Missing ones are left out."""
        for res_type, res_id in keys:
            require_type(res_type)
            self.access.check(ctx, "read", res_type, instance=True, res_id=res_id)
        rows = await self.current_many_in(tx, keys)
        found = {}
        for key in dict.fromkeys(keys):
            row = rows.get(key)
            if row is not None and not row.deleted:
                found[key] = await self.reveal(ctx, "read", _version(row))
        return found

    async def current_many_in(self, tx: Tx, keys: Sequence[tuple[str, str]], *,
                              locked: Sequence[tuple[str, str]] = ()) -> dict[tuple[str, str], CurrentRow]:
        """The current rows of the (type, id) `keys` that exist, bodies opened, in one statement; for
        the service's own steps (no access check, no audit). `locked`: the keys of resources about to
        be written, read in the same statement and locked until the transaction ends (their rows are
        what `write_many_in` reads them for: give them to it as `current`)."""
        if not locked:
            return await self.batch.current_many(tx, keys, bodies=True)
        return await self.batch.current_many(tx, locked, for_update=True, bodies=True, unlocked=keys)

    async def reveal(self, ctx: RequestContext, interaction: str, version: ResourceVersion) -> ResourceVersion:
        """The version, once the policy allows this caller to see it; its read is audited."""
        if version.body is not None and self.access.content_matters(ctx, interaction, version.res_type):
            await self.access.check_resource(ctx, interaction, fhir_json.loads(version.body))
        self.access.read(ctx, interaction, version.res_type, version.res_id, version_id=version.version_id,
                         body=version.body)
        return version

    @staticmethod
    def _readable(row: CurrentRow | None, res_type: str, res_id: str) -> ResourceVersion:
        if row is None:
            raise NotFound(f"{res_type}/{res_id} is not known")
        if row.deleted:
            raise Gone(f"{res_type}/{res_id} was deleted", headers={"ETag": f'W/"{row.version_id}"'})
        return _version(row)

    async def vread(self, ctx: RequestContext, res_type: str, res_id: str, version_id: str) -> ResourceVersion:
        require_type(res_type)
        if not version_id.isdigit():
            raise NotFound(f"{res_type}/{res_id} has no version '{version_id}'")
        self.access.check(ctx, "vread", res_type, instance=True, res_id=res_id)
        row = await self.store.version(res_type, res_id, int(version_id))
        return await self.reveal(ctx, "vread", self._version_readable(row, res_type, res_id, version_id))

    async def vread_in(self, tx: Tx, ctx: RequestContext, res_type: str, res_id: str,
                       version_id: str) -> ResourceVersion:
        require_type(res_type)
        if not version_id.isdigit():
            raise NotFound(f"{res_type}/{res_id} has no version '{version_id}'")
        self.access.check(ctx, "vread", res_type, instance=True, res_id=res_id)
        row = await self.batch.version(tx, res_type, res_id, int(version_id))
        return await self.reveal(ctx, "vread", self._version_readable(row, res_type, res_id, version_id))

    @staticmethod
    def _version_readable(row: Any, res_type: str, res_id: str, version_id: str) -> ResourceVersion:
        if row is None:
            raise NotFound(f"{res_type}/{res_id} has no version {version_id}")
        if row.deleted:
            raise Gone(f"version {version_id} of {res_type}/{res_id} is its deletion")
        return ResourceVersion(row.res_type, row.res_id, row.version_id, row.last_updated, False, row.body)

    # -- matching (conditional interactions) ---------------------------------------------------

    async def match_in(self, tx: Tx, res_type: str, criteria: Criteria, *, serialize: bool = True) -> list[str]:
        """Ids of the current `res_type` resources matching `criteria`. With `serialize`, concurrent
        conditional writes on the same criteria take turns until this transaction ends."""
        require_type(res_type)
        if serialize:
            await self._serialize_on(tx, res_type, criteria)
        return [res_id for _, res_id in await self.matcher(tx, res_type, criteria)]

    async def match_many_in(self, tx: Tx, wanted: Sequence[tuple[str, Criteria]]) -> list[list[str]]:
        """`match_in` (serialized) for several criteria at once, in one round trip for their turns and
        one for their matches."""
        for res_type, _ in wanted:
            require_type(res_type)
        await self.serialize_many_in(tx, wanted)
        return [[res_id for _, res_id in found] for found in await self.matcher.many(tx, wanted)]

    async def resolve_create_in(self, tx: Tx, res_type: str, if_none_exist: Criteria, *,
                                matches: Sequence[str] | None = None,
                                rows: Mapping[tuple[str, str], CurrentRow] | None = None) -> CurrentRow | None:
        """The resource a conditional create finds instead of creating (None: create); 412 on several.
        `matches`: the criteria's matches, when `match_many_in` found them already; `rows`: current
        rows read already (`current_many_in`), the match's among them or not."""
        if matches is None:
            matches = await self.match_in(tx, res_type, if_none_exist)
        if len(matches) > 1:
            raise MultipleMatches(
                f"If-None-Exist matched {len(matches)} {res_type} resources; the criteria are not selective enough")
        if not matches:
            return None
        existing = (rows or {}).get((res_type, matches[0])) or await self.store.current(tx, res_type, matches[0])
        if existing is None:
            raise AssertionError(f"{res_type}/{matches[0]} matched but has no row")
        return existing

    async def resolve_update_in(self, tx: Tx, res_type: str, criteria: Criteria, body_id: Any, *,
                                matches: Sequence[str] | None = None) -> str:
        """The id a conditional update writes to: the one match, else the body's id or a new one."""
        if matches is None:
            matches = await self.match_in(tx, res_type, criteria)
        if len(matches) > 1:
            raise MultipleMatches(f"the criteria matched {len(matches)} {res_type} resources; "
                                  "a conditional update needs at most one")
        if not matches:
            return check_id(body_id) if isinstance(body_id, str) else new_id()
        if body_id is not None and body_id != matches[0]:
            raise BadRequest(f"the resource id '{body_id}' differs from the matching {res_type}/{matches[0]}")
        return matches[0]

    async def resolve_patch_in(self, tx: Tx, res_type: str, criteria: Criteria) -> str:
        matches = await self.match_in(tx, res_type, criteria, serialize=False)
        if not matches:
            raise NotFound(f"no {res_type} matches the criteria of the conditional patch")
        if len(matches) > 1:
            raise MultipleMatches(f"the criteria matched {len(matches)} {res_type} resources; "
                                  "a conditional patch needs exactly one")
        return matches[0]

    async def resolve_delete_in(self, tx: Tx, res_type: str, criteria: Criteria) -> list[str]:
        if not criteria:
            raise BadRequest("a conditional delete needs search criteria")
        matches = await self.match_in(tx, res_type, criteria, serialize=False)
        if len(matches) > self.max_conditional_deletes:
            raise MultipleMatches(
                f"the criteria matched {len(matches)} {res_type} resources, more than the "
                f"{self.max_conditional_deletes} one conditional delete may remove")
        return matches

    # -- create --------------------------------------------------------------------------------

    async def create(self, ctx: RequestContext, res_type: str, resource: Any, *,
                     if_none_exist: Criteria | None = None) -> WriteResult:
        prepared = self.prepare(res_type, resource)
        res_id = new_id()
        # stamped, serialised and indexed before the transaction opens: no CPU work under its locks
        prepared = Prepared(res_type, prepared.resource, prepared.issues, self.stage(prepared.content(), res_id))
        return await self.run_in_transaction(
            lambda tx: self.create_in(tx, ctx, prepared, res_id=res_id, if_none_exist=if_none_exist))

    async def create_in(self, tx: Tx, ctx: RequestContext, prepared: Prepared, *, res_id: str | None = None,
                        if_none_exist: Criteria | None = None) -> WriteResult:
        if if_none_exist:
            self.access.check(ctx, "search-type", prepared.res_type)
            existing = await self.resolve_create_in(tx, prepared.res_type, if_none_exist)
            if existing is not None:
                found = await self.reveal(ctx, "read", _version(existing))
                return WriteResult(found, created=False, changed=False, issues=prepared.issues)
        return await self._write_one(tx, ctx, Create(prepared, res_id or new_id()))

    # -- update --------------------------------------------------------------------------------

    async def update(self, ctx: RequestContext, res_type: str, res_id: str, resource: Any, *,
                     if_match: int | None = None) -> WriteResult:
        prepared = self.prepare_update(res_type, res_id, resource)
        return await self.run_in_transaction(lambda tx: self.update_in(tx, ctx, res_id, prepared, if_match=if_match))

    async def update_in(self, tx: Tx, ctx: RequestContext, res_id: str, prepared: Prepared, *,
                        if_match: int | None = None) -> WriteResult:
        return await self._write_one(tx, ctx, Put(prepared, res_id, if_match))

    async def conditional_update(self, ctx: RequestContext, res_type: str, criteria: Criteria, resource: Any, *,
                                 if_match: int | None = None) -> WriteResult:
        """PUT [type]?[criteria] (https://hl7.org/fhir/R4/http.html#cond-update)."""
        prepared = self.prepare(res_type, resource)
        return await self.run_in_transaction(
            lambda tx: self.conditional_update_in(tx, ctx, criteria, prepared, if_match=if_match))

    async def conditional_update_in(self, tx: Tx, ctx: RequestContext, criteria: Criteria, prepared: Prepared, *,
                                    if_match: int | None = None) -> WriteResult:
        self.access.check(ctx, "search-type", prepared.res_type)
        target = await self.resolve_update_in(tx, prepared.res_type, criteria, prepared.content().get("id"))
        return await self._write_one(tx, ctx, Put(prepared, target, if_match))

    # -- patch ---------------------------------------------------------------------------------

    async def patch(self, ctx: RequestContext, res_type: str, res_id: str, patch: Any, *,
                    content_type: str, if_match: int | None = None) -> WriteResult:
        require_type(res_type)
        return await self.run_in_transaction(
            lambda tx: self.patch_in(tx, ctx, res_type, res_id, patch, content_type=content_type, if_match=if_match))

    async def patch_in(self, tx: Tx, ctx: RequestContext, res_type: str, res_id: str, patch: Any, *,
                       content_type: str, if_match: int | None = None) -> WriteResult:
        return await self._write_one(tx, ctx, Patch(res_type, res_id, patch, content_type, if_match))

    async def conditional_patch(self, ctx: RequestContext, res_type: str, criteria: Criteria, patch: Any, *,
                                content_type: str, if_match: int | None = None) -> WriteResult:
        require_type(res_type)

        self.access.check(ctx, "search-type", res_type)

        async def work(tx: Tx) -> WriteResult:
            target = await self.resolve_patch_in(tx, res_type, criteria)
            return await self.patch_in(tx, ctx, res_type, target, patch, content_type=content_type, if_match=if_match)

        return await self.run_in_transaction(work)

    # -- delete --------------------------------------------------------------------------------

    async def delete(self, ctx: RequestContext, res_type: str, res_id: str, *,
                     if_match: int | None = None) -> WriteResult:
        require_type(res_type)
        return await self.run_in_transaction(lambda tx: self.delete_in(tx, ctx, res_type, res_id, if_match=if_match))

    async def delete_in(self, tx: Tx, ctx: RequestContext, res_type: str, res_id: str, *,
                        if_match: int | None = None) -> WriteResult:
        return await self._write_one(tx, ctx, Remove(res_type, res_id, if_match))

    async def conditional_delete(self, ctx: RequestContext, res_type: str, criteria: Criteria) -> list[WriteResult]:
        """DELETE [type]?[criteria]: deletes every match, up to `max_conditional_deletes` (else 412)."""
        require_type(res_type)
        if not criteria:
            raise BadRequest("a conditional delete needs search criteria")
        return await self.run_in_transaction(lambda tx: self.conditional_delete_in(tx, ctx, res_type, criteria))

    async def conditional_delete_in(self, tx: Tx, ctx: RequestContext, res_type: str,
                                    criteria: Criteria) -> list[WriteResult]:
        self.access.check(ctx, "search-type", res_type)
        matches = await self.resolve_delete_in(tx, res_type, criteria)
        results = await self._unwrapped(self.write_many_in(tx, ctx, [Remove(res_type, m) for m in matches]))
        return [result for result in results if result.changed]

    # -- the one write path --------------------------------------------------------------------

    async def write_many_in(self, tx: Tx, ctx: RequestContext, ops: Sequence[WriteOp], *,
                            current: Mapping[tuple[str, str], CurrentRow | None] | None = None) -> list[WriteResult]:
        """Apply `ops` in the caller's transaction, with one statement per table for all of them.

        Raises BatchWriteError naming the position of the first operation that cannot be applied
        (nothing is written then); a (type, id) may appear only once. `current`: rows the transaction
        read already with their bodies and holds locked (`current_many_in(..., locked=)`), None for a
        key known not to exist (an id the server has just made); the ops' other keys are read here.
        """
        keys = [(op.res_type, op.res_id) for op in ops]
        seen: set[tuple[str, str]] = set()
        for position, key in enumerate(keys):
            if key in seen:
                raise BatchWriteError(position, BadRequest(f"{key[0]}/{key[1]} is written twice in one transaction"))
            seen.add(key)
        restricted = not ctx.principal.unrestricted
        known = current or {}
        currents = await self.batch.current_many(
            tx, [key for op, key in zip(ops, keys, strict=True) if not isinstance(op, Create) and key not in known],
            for_update=True, bodies=any(isinstance(op, Patch) or (isinstance(op, Put) and op.keep_unchanged) for op in ops)
            or self._stored_content_matters(ctx, ops))
        currents.update((key, row) for key in keys if (row := known.get(key)) is not None)
        versions: list[NewVersion] = []
        kept: list[ResourceVersion] = []  # updates that changed nothing: no new version, still audited
        results: list[WriteResult] = []
        staged_of: list[Staged | None] = []
        for position, (op, key) in enumerate(zip(ops, keys, strict=True)):
            current = currents.get(key)
            try:
                interaction = _interaction(op, current)
                self.access.check_protected(ctx, interaction, op.res_type, op.res_id)
                self.access.check(ctx, interaction, op.res_type, instance=True, res_id=op.res_id)
                version, result, staged = self._next_version(op, current)
                unchanged = isinstance(op, Put) and not result.changed
                if (version is not None or unchanged) and restricted and \
                        self.access.content_matters(ctx, interaction, op.res_type):
                    await self._check_write(ctx, interaction, staged, current)
            except FhirError as exc:
                raise BatchWriteError(position, exc) from exc
            if version is not None:
                versions.append(version)
                staged_of.append(staged)
            elif unchanged and result.version is not None:
                kept.append(result.version)
            results.append(result)
        pks = await self.batch.write(tx, versions)
        await self.access.record_writes(tx, ctx, [
            Written(_INTERACTION_OF_METHOD.get(v.method, v.action), v.res_type, v.res_id, v.version_id,
                    v.body if isinstance(v.body, bytes) else None)
            for v in versions] + [Written("update", v.res_type, v.res_id, v.version_id, v.body) for v in kept])
        if self.subscribers:
            await announce(tx, self.subscribers, [
                Change(version.action, version.res_type, version.res_id, version.version_id,
                       staged.resource() if staged is not None else None, pk, ctx)
                for version, staged, pk in zip(versions, staged_of, pks, strict=True)])
        return results

    def _stored_content_matters(self, ctx: RequestContext, ops: Sequence[WriteOp]) -> bool:
        """Whether the policy will look at the stored versions the ops replace (so they are read)."""
        if ctx.principal.unrestricted:
            return False
        for op in ops:
            if isinstance(op, Create):
                continue
            try:
                if self.access.content_matters(ctx, "delete" if isinstance(op, Remove) else "update", op.res_type):
                    return True
            except FhirError:
                return True  # refused anyway; the per-operation check names it
        return False

    async def _check_write(self, ctx: RequestContext, interaction: str, staged: Staged | None,
                           current: CurrentRow | None) -> None:
        """The policy's word on the resource written: as stored (what is changed or deleted) and as
        written (where it goes)."""
        if current is not None and not current.deleted and current.body is not None:
            await self.access.check_resource(ctx, interaction, fhir_json.loads(current.body))
        if staged is not None:
            await self.access.check_resource(ctx, interaction, staged.resource())

    def _next_version(self, op: WriteOp, current: CurrentRow | None
                      ) -> tuple[NewVersion | None, WriteResult, Staged | None]:
        if isinstance(op, Create):
            return self._written(op.res_type, op.prepared, op.res_id, None, "POST", created=True)
        if isinstance(op, Put):
            if current is None:
                if op.if_match is not None:
                    raise PreconditionFailed(f"{op.res_type}/{op.res_id} does not exist, so If-Match cannot hold")
                return self._written(op.res_type, op.prepared, op.res_id, None, "PUT", created=True)
            _check_if_match(current, op.if_match)
            if op.keep_unchanged and _unchanged(op.prepared, current):
                return None, WriteResult(_version(current), changed=False, issues=op.prepared.issues), None
            return self._written(op.res_type, op.prepared, op.res_id, current, "PUT", created=current.deleted)
        if isinstance(op, Patch):
            if current is None:
                raise NotFound(f"{op.res_type}/{op.res_id} is not known")
            if current.deleted or current.body is None:
                raise Gone(f"{op.res_type}/{op.res_id} was deleted")
            _check_if_match(current, op.if_match)
            patched = apply_patch(fhir_json.loads(current.body), op.patch, op.content_type)
            if patched.get("resourceType") != op.res_type or patched.get("id") != op.res_id:
                raise BadRequest("a patch may not change the resourceType or id of a resource", code="processing")
            prepared = Prepared(op.res_type, patched, check_valid(self.validator, patched))
            return self._written(op.res_type, prepared, op.res_id, current, "PATCH", created=False)
        if current is None or current.deleted:
            if op.if_match is not None:
                raise PreconditionFailed(f"{op.res_type}/{op.res_id} does not exist, so If-Match cannot hold")
            return None, WriteResult(None, changed=False), None
        _check_if_match(current, op.if_match)
        at = now_micros()
        version = NewVersion(op.res_type, op.res_id, current.version_id + 1, at, None, "DELETE", "delete", {}, current)
        return version, WriteResult(ResourceVersion(op.res_type, op.res_id, version.version_id, at, True, None)), None

    def _written(self, res_type: str, prepared: Prepared, res_id: str, current: CurrentRow | None, method: str,
                 *, created: bool) -> tuple[NewVersion, WriteResult, Staged]:
        version_id = 1 if current is None else current.version_id + 1
        staged = prepared.staged
        if staged is None or staged.res_id != res_id or staged.version_id != version_id:
            staged = self.stage(prepared.content(), res_id, version_id)
        action = "create" if current is None else "update"
        version = NewVersion(res_type, res_id, version_id, staged.last_updated, staged.body, method, action,
                             staged.index, current)
        written = ResourceVersion(res_type, res_id, version_id, staged.last_updated, False, staged.body)
        return version, WriteResult(written, created=created, issues=prepared.issues), staged

    async def _write_one(self, tx: Tx, ctx: RequestContext, op: WriteOp) -> WriteResult:
        return (await self._unwrapped(self.write_many_in(tx, ctx, [op])))[0]

    @staticmethod
    async def _unwrapped(call: Awaitable[T]) -> T:
        try:
            return await call
        except BatchWriteError as exc:
            raise exc.error from None

    # -- helpers -------------------------------------------------------------------------------

    async def _serialize_on(self, tx: Tx, res_type: str, criteria: Criteria) -> None:
        """Make concurrent conditional writes with the same criteria take turns (PostgreSQL), whether
        they run alone or inside a transaction Bundle: the lock lasts until the transaction ends.

        Without this two transactions could both see no match and both create. SQLite needs nothing:
        its write transactions already run one at a time.
        """
        await self.serialize_many_in(tx, [(res_type, criteria)])

    async def serialize_many_in(self, tx: Tx, targets: Sequence[tuple[str, Criteria]]) -> None:
        """`_serialize_on` for several criteria at once, in one round trip: a transaction that knows its
        conditional writes ahead (a Bundle's, or a group of HL7 messages') takes their turns together.
        Keys are taken in sorted order, so two such transactions cannot deadlock on each other."""
        if self.store.is_sqlite:
            return
        keys = [key for key in self._lock_keys(targets) if key not in tx.locked]
        if not keys:
            return
        if len(keys) == 1:
            await tx.db.execute("SELECT pg_advisory_xact_lock($1)", advisory_lock_id(keys[0]))
        else:
            # a function scan yields the array in its order: the locks are taken in sorted order
            await tx.db.execute("SELECT pg_advisory_xact_lock(x) FROM unnest($1::int8[]) AS x", advisory_locks(keys))
        tx.locked.update(keys)

    @staticmethod
    def _lock_keys(targets: Sequence[tuple[str, Criteria]]) -> list[str]:
        """The advisory lock keys of conditional writes' criteria (one per type and criteria)."""
        return sorted({res_type + "?" + "&".join(f"{name}={value}" for name, value in sorted(criteria))
                       for res_type, criteria in targets})

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
