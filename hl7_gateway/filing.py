"""Filing a message's transaction Bundle through the service layer, with the inbox record of its
outcome in the same database transaction.

The resources and the record commit together or not at all, so a crash between them cannot leave a
filed message looking unfinished (to be filed again) nor an unfiled one looking done. This is what
`BundleService.transaction` does — the same steps through the same service code (validation,
conditional matches, versioning, indexing, change events) — with one step added before the commit:
`settle(tx, filed)`. `run_in_transaction` reruns the whole unit, `settle` included, on a lost race.

Each message gets its own `RequestContext`, as each HTTP request does: the AuditEvents of the reads
the filing makes (a conditional create that finds the Practitioner reads it) collect there and go
into the filing's transaction with the events of its writes (`reads_with_writes`): recorded if and
only if the message is filed, without a commit of their own. What is left (a message that wrote
nothing new) is recorded once the transaction has committed, before the ACK.

Messages that are filed at the same moment (from several connections) share one transaction
(`hl7_gateway.group_commit`); each keeps its own context, its own outcome and its own inbox record,
and one that fails is filed again alone, so it cannot fail the others.

The resources are the gateway's own work, built by the mapping from typed code: they are validated
by `validator` when one is given (the runner passes the R4 structural validation without the R4B
model layer, which the mapping tests run on every sample) instead of the service's validator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fhir_server.context import Principal, RequestContext
from fhir_server.errors import BadRequest, FhirError
from fhir_server.services import BundleService
from fhir_server.services.bundle_entries import BundleEntry, phase_order, read_entries
from fhir_server.services.bundle_errors import at_entry
from fhir_server.services.bundle_staging import plan_transaction
from fhir_server.services.bundle_transaction import TransactionRun
from fhir_server.services.ports import Validator
from fhir_server.services.write_ops import Prepared
from fhir_server.storage.repository import Tx
from hl7_gateway.gateway import Settle
from hl7_gateway.group_commit import GroupCommit

__all__ = ["BundleFiler"]

log = logging.getLogger(__name__)


class BundleFiler:
    """`FileBundle` over the service layer: returns the versioned locations written (`Type/id/_history/n`)."""

    def __init__(self, bundles: BundleService, *, principal: Principal, base_url: str,
                 validator: Validator | None = None, max_group: int = 16, max_concurrent: int = 2) -> None:
        self.bundles = bundles
        self.resources = bundles.resources
        self.principal = principal
        self.base_url = base_url
        self.validator = validator
        # two groups at once: one's transaction runs while the next gathers (and while the other commits)
        self.group = GroupCommit(self.resources.run_in_transaction, max_group=max_group,
                                 max_concurrent=max_concurrent, serialized=self._serialized)

    async def __call__(self, bundle: dict[str, Any], settle: Settle) -> list[str]:
        ctx = RequestContext(principal=self.principal, base_url=self.base_url, reads_with_writes=True)
        kind, entries = read_entries(bundle, base_url=ctx.base_url, max_entries=self.bundles.max_entries)
        if kind != "transaction":
            raise BadRequest(f"the gateway files transaction Bundles, not '{kind}'")
        # the CPU work (validation, staging) is done before the transaction opens, as for any client
        plan = plan_transaction(self.resources, entries, self._prepare(entries), base_url=ctx.base_url,
                                bind_full_urls=True)
        # a replay, or a result sent again unchanged, leaves what it would only restate at its version
        run = TransactionRun(self.resources, ctx, phase_order(entries), plan.prepared,
                             search=self.bundles.search, bind_full_urls=True, assigned=plan.assigned,
                             keep_unchanged=True)
        filed = await self.group(_Filing(run, settle, ctx))
        try:
            await self.resources.access.flush(ctx)
        except Exception:  # noqa: BLE001 - the message is filed and recorded: failing it now would mislead the lab
            log.exception("HL7 gateway: the AuditEvents of a filed message could not be recorded")
        return filed

    @staticmethod
    def _serialized(filings: Sequence[_Filing]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
        """The criteria of a group's conditional writes, whose locks its transaction takes as it begins."""
        return [target for filing in filings for target in filing.run.serialized_criteria()]

    def _prepare(self, entries: list[BundleEntry]) -> dict[int, Prepared]:
        """Validate the resource of every POST and PUT entry (the first invalid one fails the Bundle)."""
        prepared: dict[int, Prepared] = {}
        for entry in entries:
            if entry.method not in ("POST", "PUT"):
                continue
            try:
                if entry.method == "PUT" and entry.res_id is not None:
                    prepared[entry.index] = self.resources.prepare_update(entry.res_type, entry.res_id, entry.resource,
                                                                          validator=self.validator)
                else:
                    prepared[entry.index] = self.resources.prepare(entry.res_type, entry.resource,
                                                                   validator=self.validator)
            except FhirError as exc:
                raise at_entry(exc, entry.index, entry.res_type) from exc
        return prepared


class _Filing:
    """One message's unit of work: its transaction's entries, then the record of its outcome."""

    def __init__(self, run: TransactionRun, settle: Settle, ctx: RequestContext) -> None:
        self.run = run
        self.settle = settle
        self.ctx = ctx
        self._audited = len(ctx.audit)

    async def __call__(self, tx: Tx) -> list[str]:
        outcomes = await self.run(tx)
        filed = [outcome.version.versioned_path for _, outcome in sorted(outcomes.items())
                 if outcome.version is not None and not outcome.version.deleted]
        await self.settle(tx, filed)
        return filed

    def rolled_back(self) -> None:
        del self.ctx.audit[self._audited:]  # the reads of a run that was undone are made again
