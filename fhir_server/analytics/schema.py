"""The `analytics_encounters` projection (created by migration 0005): one narrow row per Encounter.

What in-hospital mortality counts, taken from the Encounter and, for two columns, from the resources
it points at: the patient's death date (`death_low`/`death_high`, from `Patient.deceasedDateTime`)
and the principal diagnosis' code (`dx_*`, from the Condition). `projection.py` fills it; rows
follow every write through a change subscriber, and `rebuild.py` builds it from stored data.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table

from fhir_server.db.tables import PrimaryKey, metadata

__all__ = ["analytics_encounters", "COLUMNS"]

analytics_encounters = Table(
    "analytics_encounters",
    metadata,
    Column("resource_pk", PrimaryKey, ForeignKey("resources.pk"), primary_key=True),
    Column("res_id", String(64), nullable=False),
    # class IMP, neither cancelled nor entered in error
    Column("inpatient", Boolean, nullable=False),
    # Encounter.period as inclusive epoch microseconds; the discharge month as YYYYMM (UTC)
    Column("period_start", BigInteger, nullable=True),
    Column("period_end", BigInteger, nullable=True),
    Column("discharge_month", Integer, nullable=True),
    # hospitalization.dischargeDisposition `exp`
    Column("expired", Boolean, nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("death_low", BigInteger, nullable=True),
    Column("death_high", BigInteger, nullable=True),
    # references as `Type/id`
    Column("attending", String(140), nullable=True),
    Column("department", String(140), nullable=True),
    Column("location", String(140), nullable=True),
    Column("condition_id", String(64), nullable=True),
    Column("dx_system", String(255), nullable=True),
    Column("dx_code", String(255), nullable=True),
    Column("dx_display", String(255), nullable=True),
    Column("reason_system", String(255), nullable=True),
    Column("reason_code", String(255), nullable=True),
    Column("reason_display", String(255), nullable=True),
    Index(None, "inpatient", "period_end"),
    Index(None, "patient_id"),
    Index(None, "condition_id"),
)

COLUMNS = tuple(column.name for column in analytics_encounters.columns)
