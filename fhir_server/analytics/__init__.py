"""Analytics: in-hospital mortality by attending physician, department, location, condition and period.

    analytics = MortalityAnalytics(store=..., resources=..., jobs=..., guard=RoleGuard(), minimum_cell=11)
    resources.subscribe(analytics.projection.on_change)          # keeps analytics_encounters current
    runtime.job_handlers[REBUILD] = analytics.rebuild             # builds it from stored data
    registry.register(evaluate_measure.DEFINITION, EvaluateMeasureOperation(analytics))
"""

from fhir_server.analytics.access import AnalyticsAccess, AnalyticsGuard, AnalyticsRequest, RoleGuard
from fhir_server.analytics.evaluate_measure import DEFINITION as EVALUATE_MEASURE
from fhir_server.analytics.evaluate_measure import EvaluateMeasureOperation
from fhir_server.analytics.measure import MEASURE_ID, MEASURE_URL, measure_resource
from fhir_server.analytics.mortality_operation import DEFINITION as MORTALITY
from fhir_server.analytics.mortality_operation import MortalityOperation
from fhir_server.analytics.rebuild import REBUILD
from fhir_server.analytics.service import MortalityAnalytics, ProjectionNotReady

__all__ = ["MortalityAnalytics", "ProjectionNotReady", "AnalyticsGuard", "AnalyticsAccess", "AnalyticsRequest",
           "RoleGuard", "EvaluateMeasureOperation", "EVALUATE_MEASURE", "MortalityOperation", "MORTALITY",
           "MEASURE_ID", "MEASURE_URL", "measure_resource", "REBUILD"]
