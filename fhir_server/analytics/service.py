"""Mortality analytics as a service: the guard, the counts, the labels and suppression, in one call.

    analytics = MortalityAnalytics(store=..., resources=..., jobs=..., guard=RoleGuard(), minimum_cell=11)
    table = await analytics.table(principal, AnalyticsRequest("csv"), period=..., subject=None)
    report = await analytics.evaluate(principal, period=..., subject=None, report_type="population")

Before the first answer each process checks that the projection is built (else it enqueues the
rebuild and answers 503 with Retry-After until the worker has run it) and that the shipped Measure
is stored.
"""

from __future__ import annotations

from typing import Any

from fhir_server.analytics.access import AnalyticsAccess, AnalyticsGuard, AnalyticsRequest
from fhir_server.analytics.labels import ReferenceLabels
from fhir_server.analytics.measure import ensure_measure
from fhir_server.analytics.mortality import MortalityQuery, Subject
from fhir_server.analytics.periods import Period
from fhir_server.analytics.projection import EncounterProjection
from fhir_server.analytics.rebuild import ProjectionRebuild
from fhir_server.analytics.report import REPORT_TYPES, measure_report
from fhir_server.analytics.table import MortalityTable, build_table
from fhir_server.context import Principal
from fhir_server.errors import BadRequest, FhirError
from fhir_server.jobs import JobQueue
from fhir_server.services.resources import ResourceService
from fhir_server.storage.repository import ResourceStore

__all__ = ["MortalityAnalytics", "ProjectionNotReady", "MAX_SUBJECT_LIST"]

MAX_SUBJECT_LIST = 10_000


class ProjectionNotReady(FhirError):
    """503: the analytics projection of data stored before it existed is still being built."""

    status, code = 503, "transient"


class MortalityAnalytics:
    def __init__(self, *, store: ResourceStore, resources: ResourceService, jobs: JobQueue, guard: AnalyticsGuard,
                 minimum_cell: int = 11) -> None:
        self.store = store
        self.resources = resources
        self.guard = guard
        self.minimum_cell = minimum_cell
        self.query = MortalityQuery(store)
        self.labels = ReferenceLabels(store)
        self.projection = EncounterProjection(store)
        self.rebuild = ProjectionRebuild(store, self.projection, jobs)
        self._ready = False

    async def ready(self) -> None:
        if self._ready:
            return
        if not await self.rebuild.built():
            await self.rebuild.ensure()
            raise ProjectionNotReady("the mortality figures are being prepared from the stored encounters "
                                     "(job analytics.rebuild); try again shortly", headers={"retry-after": "30"})
        await ensure_measure(self.resources)
        self._ready = True

    def authorize(self, principal: Principal, request: AnalyticsRequest) -> AnalyticsAccess:
        return self.guard.authorize(principal, request)

    async def table(self, principal: Principal, request: AnalyticsRequest, *, period: Period,
                    subject: Subject | None = None, trend: tuple[str, str] | None = None) -> MortalityTable:
        access = self.authorize(principal, request)
        await self.ready()
        counts = await self.query.counts(period, subject)
        references = {key for dimension in ("attending", "department", "location")
                      for key in counts.strata[dimension] if key is not None}
        if subject is not None:
            references.add(subject.reference)
        labels = await self.labels.labels(references)
        return build_table(counts, period, subject=subject, labels=labels, trend=trend,
                           minimum_cell=self.minimum_cell if access.suppress_small_cells else None)

    async def evaluate(self, principal: Principal, *, period: Period, subject: Subject | None = None,
                       report_type: str = "population") -> dict[str, Any]:
        """$evaluate-measure: a MeasureReport of the given type."""
        if report_type not in REPORT_TYPES:
            raise BadRequest(f"reportType must be one of {', '.join(REPORT_TYPES)}, got '{report_type}'")
        if report_type == "subject" and subject is None:
            raise BadRequest("reportType=subject needs a subject (e.g. subject=Patient/123)")
        patient_level = report_type != "population" or (subject is not None and
                                                         subject.res_type in ("Patient", "Group"))
        request = AnalyticsRequest("evaluate-measure", patient_level=patient_level,
                                   subject=subject.reference if subject else None)
        table = await self.table(principal, request, period=period, subject=subject)
        encounters = None
        if report_type == "subject-list":
            encounters = await self.query.encounters(period, subject, limit=MAX_SUBJECT_LIST)
            if len(encounters) > MAX_SUBJECT_LIST:
                raise BadRequest(f"the subject list would name more than {MAX_SUBJECT_LIST:,} encounters: "
                                 "narrow the period or the subject", code="too-costly")
        return measure_report(table, report_type=report_type, encounters=encounters)
