"""One run of a transaction's entries inside one database transaction
(https://hl7.org/fhir/R4/http.html#trules).

    1. DELETE entries (conditional ones resolved to their matches)
    2. identities: a new id for each POST (or the match of its ifNoneExist), the match of each
       conditional PUT / PATCH; every fullUrl bound to the `Type/id` it stands for
    3. POST, PUT and PATCH entries: temporary ids and conditional references replaced inside the
       resources, then written together through `ResourceService.write_many_in`
    4. GET and HEAD entries, which see the transaction's own writes

Conditional matches take the same advisory lock as a lone conditional write, so concurrent
transactions creating the same resource take turns. No resource may be written by two entries.
A batch runs each of its entries through this too, one entry per transaction, without step 2's
fullUrl bindings (batch entries may not refer to each other).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, FhirError, PreconditionFailed
from fhir_server.ids import new_id
from fhir_server.services.bundle_entries import BundleEntry, parse_criteria
from fhir_server.services.bundle_errors import at_entry, no_such_entry
from fhir_server.services.bundle_references import Identities, unresolved
from fhir_server.services.bundle_response import EntryOutcome, written
from fhir_server.services.outcome import ResourceVersion
from fhir_server.services.resources import ResourceService
from fhir_server.services.write_ops import BatchWriteError, Create, Patch, Prepared, Put, Remove, WriteOp
from fhir_server.storage.repository import CurrentRow, Tx

__all__ = ["TransactionRun", "BundleSearch", "named", "read_outcome"]

BundleSearch = Callable[[RequestContext, str, Sequence[tuple[str, str]]], Awaitable[bytes]]
Key = tuple[str, str]


@contextmanager
def named(entry: BundleEntry) -> Iterator[None]:
    """Errors raised inside name the entry they belong to."""
    try:
        yield
    except FhirError as exc:
        raise at_entry(exc, entry.index, entry.res_type) from exc


def read_outcome(entry: BundleEntry, version: ResourceVersion) -> EntryOutcome:
    """GET / HEAD with their conditions: 304 when ifNoneMatch names the current version or nothing
    changed since ifModifiedSince."""
    not_modified = (entry.if_none_match is not None and entry.if_none_match == version.version_id) or (
        entry.if_modified_since is not None and version.last_updated <= entry.if_modified_since)
    if not_modified:
        return EntryOutcome(304, version)
    return EntryOutcome(200, version, body=None if entry.method == "HEAD" else version.body)


class TransactionRun:
    """Processes phase-ordered `entries` inside one transaction; `prepared` holds the validated
    resource of each POST / PUT entry by entry index. Call it with the transaction."""

    def __init__(self, resources: ResourceService, ctx: RequestContext, entries: Sequence[BundleEntry],
                 prepared: dict[int, Prepared], *, search: BundleSearch | None, bind_full_urls: bool,
                 assigned: dict[int, str] | None = None, keep_unchanged: bool = False) -> None:
        """`assigned`: ids chosen ahead for plain POST entries (their resources may be staged with them).
        `keep_unchanged`: PUT entries whose content is stored already make no new version (`Put`)."""
        self.resources = resources
        self.keep_unchanged = keep_unchanged
        self.assigned = assigned or {}
        self.ctx = ctx
        self.entries = entries
        self.prepared = prepared
        self.search = search
        self.bind_full_urls = bind_full_urls

    async def __call__(self, tx: Tx) -> dict[int, EntryOutcome]:
        self.tx = tx
        self.ids = Identities()
        self.claimed: dict[Key, BundleEntry] = {}
        self.outcomes: dict[int, EntryOutcome] = {}
        self.targets: dict[int, str] = {}
        # the rows of resources to write, read and locked ahead (None: known not to exist)
        self.current: dict[Key, CurrentRow | None] = {}
        for entry in self.entries:
            if entry.method == "POST" and not entry.if_none_exist:
                self._target(entry, self.assigned.get(entry.index) or new_id())
            elif entry.method in ("PUT", "PATCH") and entry.res_id is not None:
                self._target(entry, entry.res_id)
        await self._deletes([e for e in self.entries if e.method == "DELETE"])
        await self._identities()
        await self._writes([e for e in self.entries if e.method in ("POST", "PUT", "PATCH")])
        for entry in self.entries:
            if entry.method in ("GET", "HEAD"):
                with named(entry):
                    self.outcomes[entry.index] = await self._read(entry)
        return self.outcomes

    # -- identities ----------------------------------------------------------------------------

    def _target(self, entry: BundleEntry, res_id: str) -> None:
        self.targets[entry.index] = res_id
        if self.bind_full_urls:
            self.ids.bind(entry.full_url, entry.res_type, res_id, base_url=self.ctx.base_url)

    def _claim(self, entry: BundleEntry, res_id: str) -> None:
        key = (entry.res_type, res_id)
        other = self.claimed.get(key)
        if other is not None and other is not entry:
            raise at_entry(BadRequest(
                f"{key[0]}/{key[1]} is also written by {other.where}; a transaction writes each resource once"),
                entry.index)
        self.claimed[key] = entry

    def serialized_criteria(self) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
        """The criteria of the conditional creates and updates whose turn can be taken before the run:
        those that name no resource of the Bundle (the others are known only as the run binds them)."""
        return [(entry.res_type, criteria) for entry, criteria in self._known_ahead()]

    def _known_ahead(self) -> list[tuple[BundleEntry, tuple[tuple[str, str], ...]]]:
        full_urls = {entry.full_url for entry in self.entries if entry.full_url}
        known = []
        for entry in self.entries:
            if entry.method == "POST":
                criteria = entry.if_none_exist
            elif entry.method == "PUT" and entry.conditional:
                criteria = entry.criteria
            else:
                continue
            if criteria and not any(part in full_urls for _, value in criteria for part in value.split(",")):
                known.append((entry, criteria))
        return known

    async def _identities(self) -> None:
        tx, resources = self.tx, self.resources
        for entry in self.entries:
            if (entry.method == "POST" and entry.if_none_exist) or entry.conditional:
                with named(entry):
                    resources.access.check(self.ctx, "search-type", entry.res_type)  # conditional: a search
        # the matches of the criteria known ahead, found together (their turns taken in the same step)
        ahead = self._known_ahead()
        found = await resources.match_many_in(tx, [(entry.res_type, criteria) for entry, criteria in ahead]) \
            if ahead else []
        matches = {entry.index: ids for (entry, _), ids in zip(ahead, found, strict=True)}
        decided = await self._updates_decided(ahead, matches)
        # the resources the conditional creates among them found, read together; and in the same
        # statement, locked, those the updates will write (which the writes would read otherwise)
        found_by_creates = [(entry.res_type, ids[0]) for entry, _ in ahead
                            if entry.method == "POST" and len(ids := matches[entry.index]) == 1]
        written = [key for key in self._written_keys(decided) if key not in self.current] if found_by_creates else []
        rows = await resources.current_many_in(tx, found_by_creates, locked=written)
        self.current.update((key, rows.get(key)) for key in written)
        for entry in self.entries:
            with named(entry):
                if entry.method == "POST" and entry.if_none_exist:
                    criteria = self.ids.criteria(entry.if_none_exist)
                    existing = await resources.resolve_create_in(
                        tx, entry.res_type, criteria, rows=rows,
                        matches=matches.get(entry.index) if criteria == entry.if_none_exist else None)
                    if existing is None:
                        self._target(entry, new_id())
                    else:
                        self._target(entry, existing.res_id)
                        version = await resources.reveal(self.ctx, "read", ResourceVersion(
                            existing.res_type, existing.res_id, existing.version_id, existing.last_updated,
                            existing.deleted, existing.body))
                        self.outcomes[entry.index] = EntryOutcome(200, version, informational="an existing resource matched")
                elif entry.method == "PUT" and entry.conditional:
                    criteria = self.ids.criteria(entry.criteria)
                    if criteria == entry.criteria and entry.index in decided:
                        self._target(entry, decided[entry.index])
                        continue
                    body_id = self.prepared[entry.index].content().get("id")
                    self._target(entry, await resources.resolve_update_in(
                        tx, entry.res_type, criteria, body_id, matches=matches.get(entry.index) if criteria == entry.criteria else None))
                elif entry.method == "PATCH" and entry.conditional:
                    self._target(entry, await resources.resolve_patch_in(
                        tx, entry.res_type, self.ids.criteria(entry.criteria)))

    async def _updates_decided(self, ahead: Sequence[tuple[BundleEntry, Any]],
                               matches: dict[int, list[str]]) -> dict[int, str]:
        """The ids the conditional updates known ahead write to, where their matches decide it; an id
        made here for one that matched nothing is known not to exist (`self.current`). One that fails
        is left to the entries' own turn, so that the first failing entry is the one named."""
        decided: dict[int, str] = {}
        for entry, criteria in ahead:
            if entry.method != "PUT":
                continue
            body_id = self.prepared[entry.index].content().get("id")
            try:
                res_id = await self.resources.resolve_update_in(self.tx, entry.res_type, criteria, body_id,
                                                                matches=matches[entry.index])
            except FhirError:
                continue
            decided[entry.index] = res_id
            if not matches[entry.index] and body_id is None:
                self.current[(entry.res_type, res_id)] = None
        return decided

    def _written_keys(self, decided: dict[int, str]) -> list[Key]:
        """The (type, id) the PUT and PATCH entries will write, as far as they are known before their turn."""
        keys = [(entry.res_type, self.targets[entry.index]) for entry in self.entries
                if entry.method in ("PUT", "PATCH") and entry.res_id is not None]
        return keys + [(entry.res_type, decided[entry.index]) for entry in self.entries if entry.index in decided]

    # -- writes --------------------------------------------------------------------------------

    async def _deletes(self, entries: list[BundleEntry]) -> None:
        ops: list[WriteOp] = []
        owners: list[BundleEntry] = []
        for entry in entries:
            with named(entry):
                if entry.res_id is not None:
                    matches = [entry.res_id]
                else:
                    matches = await self.resources.resolve_delete_in(self.tx, entry.res_type,
                                                                     self.ids.criteria(entry.criteria))
                for res_id in matches:
                    self._claim(entry, res_id)
                    ops.append(Remove(entry.res_type, res_id, entry.if_match))
                    owners.append(entry)
        results = await self._write(ops, owners)
        deleted: dict[int, int] = {}
        for entry, result in zip(owners, results, strict=True):
            deleted[entry.index] = deleted.get(entry.index, 0) + (1 if result.changed else 0)
            if entry.res_id is not None:
                self.outcomes[entry.index] = written(result, informational="deleted" if result.changed
                                                     else "nothing to delete")
        for entry in entries:
            if entry.res_id is None:
                count = deleted.get(entry.index, 0)
                self.outcomes[entry.index] = EntryOutcome(
                    204, informational=f"deleted {count} resource{'s' if count != 1 else ''}")

    async def _writes(self, entries: list[BundleEntry]) -> None:
        ops: list[WriteOp] = []
        owners: list[BundleEntry] = []
        for entry in entries:
            if entry.index in self.outcomes:  # a conditional create that found its match
                continue
            res_id = self.targets[entry.index]
            with named(entry):
                self._claim(entry, res_id)
                if entry.method == "PATCH":
                    ops.append(Patch(entry.res_type, res_id, entry.patch, entry.patch_type, entry.if_match))
                else:
                    prepared = await self._resolved(entry, self.prepared[entry.index])
                    ops.append(Create(prepared, res_id) if entry.method == "POST"
                               else Put(prepared, res_id, entry.if_match, self.keep_unchanged))
            owners.append(entry)
        results = await self._write(ops, owners)
        for entry, result in zip(owners, results, strict=True):
            self.outcomes[entry.index] = written(result, informational={
                "POST": "created", "PUT": "updated", "PATCH": "patched"}[entry.method])

    async def _write(self, ops: list[WriteOp], owners: list[BundleEntry]) -> list[Any]:
        if not ops:
            return []
        try:
            return await self.resources.write_many_in(self.tx, self.ctx, ops, current=self.current)
        except BatchWriteError as exc:
            entry = owners[exc.position]
            raise at_entry(exc.error, entry.index, entry.res_type) from exc

    async def _resolved(self, entry: BundleEntry, prepared: Prepared) -> Prepared:
        """The entry's resource with the Bundle's URLs and its conditional references replaced."""
        if prepared.staged is not None:
            return prepared  # rewritten and staged before the transaction opened
        resource = prepared.content()
        unknown: list[str] = []
        rewritten = self.ids.rewrite(resource, unknown)  # the common case: one walk finds and replaces
        conditional, dangling = unresolved(unknown)
        if conditional:
            for reference in conditional:
                self.ids.references[reference] = await self._conditional_reference(reference)
            rewritten = self.ids.rewrite(resource)
        if self.bind_full_urls and dangling:
            raise no_such_entry(dangling[0])
        if rewritten is resource:
            return prepared
        return Prepared(prepared.res_type, rewritten, prepared.issues)

    async def _conditional_reference(self, reference: str) -> str:
        res_type, _, query = reference.partition("?")
        criteria = self.ids.criteria(parse_criteria(query))
        matches = await self.resources.match_in(self.tx, res_type, criteria, serialize=False)
        if len(matches) != 1:
            found = "no" if not matches else f"{len(matches)}"
            raise PreconditionFailed(f"the conditional reference '{reference}' matched {found} {res_type} "
                                     "resources; it must match exactly one", code="not-found" if not matches
                                     else "multiple-matches")
        return f"{res_type}/{matches[0]}"

    # -- reads ---------------------------------------------------------------------------------

    async def search_outcome(self, entry: BundleEntry) -> EntryOutcome:
        """GET [type]?[criteria]: the searchset Bundle, from the search interaction."""
        if self.search is None:
            raise BadRequest("search inside a Bundle is not available on this server yet; read entries "
                             "(GET [type]/[id]) are", code="not-supported")
        return EntryOutcome(200, body=await self.search(self.ctx, entry.res_type, entry.criteria))

    async def _read(self, entry: BundleEntry) -> EntryOutcome:
        if entry.res_id is None:
            return await self.search_outcome(entry)
        if entry.version_id is not None:
            version = await self.resources.vread_in(self.tx, self.ctx, entry.res_type, entry.res_id, entry.version_id)
        else:
            version = await self.resources.read_in(self.tx, self.ctx, entry.res_type, entry.res_id)
        return read_outcome(entry, version)
