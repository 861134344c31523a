"""In-hospital mortality counted in SQL: one statement returns the totals and every stratum by month.

Denominator: inpatient encounters (`analytics_encounters.inpatient`) discharged in the period (the
end of `Encounter.period` inside it). Numerator: those that ended in death: a discharge disposition
`exp`, or the patient's death date inside the stay. Strata (each by discharge month, so quarters and
years are sums): attending practitioner, department (`serviceProvider`), location, and principal
condition (the principal diagnosis' code, else the first reason code). Encounters without a value
for a stratifier fall in its `None` stratum.

    SELECT 'all', ..., discharge_month, COUNT(*), SUM(died) FROM analytics_encounters WHERE ... GROUP BY month
    UNION ALL SELECT 'attending', attending, ..., COUNT(*), SUM(died) ... GROUP BY attending, month
    UNION ALL ...                                       (department, location, condition likewise)

On PostgreSQL the same five groupings are one `GROUP BY GROUPING SETS (...)`: one scan instead of five.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from fhir_server.analytics.periods import Period
from fhir_server.errors import BadRequest
from fhir_server.storage.repository import ResourceStore, Tx

__all__ = ["Cell", "Key", "MortalityCounts", "Subject", "MortalityQuery", "DIMENSIONS", "SUBJECT_TYPES", "months_by"]

DIMENSIONS = ("attending", "department", "location", "condition")
# a `subject` of these types restricts the encounters counted; Group: its Patient members
SUBJECT_TYPES = {"Patient": "patient_id", "Practitioner": "attending", "PractitionerRole": "attending",
                 "Organization": "department", "Location": "location", "Group": "patient_id"}

# a stratum key: `Type/id` for references, `system|code` for conditions; None: no value
Key = str | None

_DIED = ("CASE WHEN expired OR (death_low IS NOT NULL AND death_low <= period_end "
         "AND death_high >= COALESCE(period_start, period_end)) THEN 1 ELSE 0 END")
_WHERE = "WHERE inpatient = $1 AND period_end >= $2 AND period_end <= $3{subject}"
_GROUP_MEMBERS = (" AND patient_id IN (SELECT gm.target_id FROM search_reference gm "
                  "JOIN resources g ON g.pk = gm.resource_pk WHERE g.res_type = 'Group' AND g.res_id = $4 "
                  "AND g.deleted = $5 AND gm.param = 'member' AND gm.target_type = 'Patient')")
_NULL = "CAST(NULL AS VARCHAR(255))"
_CONDITION_SYSTEM = "CASE WHEN dx_code IS NOT NULL THEN dx_system ELSE reason_system END"
_CONDITION_CODE = "CASE WHEN dx_code IS NOT NULL THEN dx_code ELSE reason_code END"
_CONDITION_DISPLAY = "CASE WHEN dx_code IS NOT NULL THEN dx_display ELSE reason_display END"
# one scan per dimension: each is a plain GROUP BY over the narrow table
_STRATA = " UNION ALL ".join((
    f"SELECT 'all' AS dim, {_NULL} AS key_a, {_NULL} AS key_b, discharge_month, COUNT(*) AS total, "
    f"SUM({_DIED}) AS deaths, {_NULL} AS display FROM {{table}} {_WHERE} GROUP BY discharge_month",
    *(f"SELECT '{d}', {d}, {_NULL}, discharge_month, COUNT(*), SUM({_DIED}), {_NULL} FROM {{table}} {_WHERE} "
      f"GROUP BY {d}, discharge_month" for d in ("attending", "department", "location")),
    f"SELECT 'condition', {_CONDITION_SYSTEM}, {_CONDITION_CODE}, discharge_month, COUNT(*), SUM({_DIED}), "
    f"MAX({_CONDITION_DISPLAY}) FROM {{table}} {_WHERE} GROUP BY {_CONDITION_SYSTEM}, {_CONDITION_CODE}, "
    "discharge_month",
))
# PostgreSQL computes every GROUP BY in one scan with grouping sets (SQLite has none: UNION ALL above)
_STRATA_PG = f"""SELECT
  CASE WHEN GROUPING(attending) = 0 THEN 'attending' WHEN GROUPING(department) = 0 THEN 'department'
       WHEN GROUPING(location) = 0 THEN 'location' WHEN GROUPING(cond_code) = 0 THEN 'condition' ELSE 'all' END,
  CASE WHEN GROUPING(attending) = 0 THEN attending WHEN GROUPING(department) = 0 THEN department
       WHEN GROUPING(location) = 0 THEN location WHEN GROUPING(cond_code) = 0 THEN cond_system END,
  CASE WHEN GROUPING(cond_code) = 0 THEN cond_code END,
  discharge_month, COUNT(*), SUM(died), MAX(cond_display)
FROM (SELECT discharge_month, {_DIED} AS died, attending, department, location,
             {_CONDITION_SYSTEM} AS cond_system, {_CONDITION_CODE} AS cond_code,
             {_CONDITION_DISPLAY} AS cond_display
      FROM {{table}} {_WHERE}) AS enc
GROUP BY GROUPING SETS ((discharge_month), (attending, discharge_month), (department, discharge_month),
                        (location, discharge_month), (cond_system, cond_code, discharge_month))"""
_ENCOUNTERS = f"SELECT res_id, {_DIED} FROM {{table}} {_WHERE} ORDER BY res_id LIMIT {{limit}}"
# SQLite, planning without statistics, would reach most of the table through the period index, a
# random read per row; past this share of the rows one sequential scan is several times faster
SCAN_SHARE = 0.2
_IN_PERIOD = "SELECT COUNT(*) FROM analytics_encounters WHERE inpatient = $1 AND period_end >= $2 AND period_end <= $3"
_ALL = "SELECT COUNT(*) FROM analytics_encounters"


@dataclass(slots=True)
class Cell:
    total: int = 0
    deaths: int = 0

    def add(self, other: Cell) -> None:
        self.total += other.total
        self.deaths += other.deaths

    @property
    def rate(self) -> float | None:
        return self.deaths / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class Subject:
    """A `Type/id` the report is restricted to (see SUBJECT_TYPES)."""

    res_type: str
    res_id: str

    @classmethod
    def parse(cls, text: str) -> Subject:
        res_type, _, res_id = text.strip().partition("/")
        if res_type not in SUBJECT_TYPES or not res_id or "/" in res_id:
            raise BadRequest(f"subject must be a reference to one of {', '.join(sorted(SUBJECT_TYPES))} "
                             f"(e.g. Practitioner/123), got '{text}'")
        return cls(res_type, res_id)

    @property
    def reference(self) -> str:
        return f"{self.res_type}/{self.res_id}"


@dataclass(slots=True)
class MortalityCounts:
    """Counts by discharge month (`YYYY-MM`): the totals, and per dimension per stratum key."""

    months: dict[str, Cell] = field(default_factory=dict)
    strata: dict[str, dict[Key, dict[str, Cell]]] = field(default_factory=lambda: {d: {} for d in DIMENSIONS})
    # condition key -> its display text
    displays: dict[str, str] = field(default_factory=dict)

    def total(self) -> Cell:
        cell = Cell()
        for month in self.months.values():
            cell.add(month)
        return cell

    def stratum_total(self, dimension: str, key: Key) -> Cell:
        cell = Cell()
        for month in self.strata[dimension].get(key, {}).values():
            cell.add(month)
        return cell


def _month_label(value: int | None) -> str:
    return "unknown" if value is None else f"{value // 100:04d}-{value % 100:02d}"


class MortalityQuery:
    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    async def _table(self, tx: Tx, period: Period) -> str:
        if not self.store.is_sqlite:
            return "analytics_encounters"
        in_period = await tx.db.fetchval(_IN_PERIOD, True, period.low, period.high) or 0
        everything = await tx.db.fetchval(_ALL) or 0
        return "analytics_encounters NOT INDEXED" if in_period > SCAN_SHARE * everything else "analytics_encounters"

    @staticmethod
    def _subject(subject: Subject | None) -> tuple[str, list[object]]:
        if subject is None:
            return "", []
        if subject.res_type == "Group":
            return _GROUP_MEMBERS, [subject.res_id, False]
        value = subject.res_id if subject.res_type == "Patient" else subject.reference
        return f" AND {SUBJECT_TYPES[subject.res_type]} = $4", [value]

    async def counts(self, period: Period, subject: Subject | None = None) -> MortalityCounts:
        where, extra = self._subject(subject)
        async with self.store.read() as tx:
            statement = _STRATA if self.store.is_sqlite else _STRATA_PG
            sql = statement.format(table=await self._table(tx, period), subject=where)
            rows = await tx.db.fetch(sql, True, period.low, period.high, *extra)
        counts = MortalityCounts()
        for dim, key_a, key_b, month, total, deaths, display in rows:
            cell = Cell(int(total), int(deaths or 0))
            label = _month_label(month)
            if dim == "all":
                counts.months[label] = cell
                continue
            key: Key = key_a if dim != "condition" else (None if key_b is None else f"{key_a or ''}|{key_b}")
            counts.strata[dim].setdefault(key, {})[label] = cell
            if dim == "condition" and key is not None and display:
                counts.displays[key] = display
        return counts

    async def encounters(self, period: Period, subject: Subject | None = None, *,
                         limit: int = 10_000) -> list[tuple[str, bool]]:
        """(Encounter id, died) of the counted encounters by id, at most `limit` + 1 (so a caller
        can tell there were more)."""
        where, extra = self._subject(subject)
        async with self.store.read() as tx:
            sql = _ENCOUNTERS.format(table=await self._table(tx, period), subject=where, limit=int(limit) + 1)
            rows = await tx.db.fetch(sql, True, period.low, period.high, *extra)
        return [(res_id, bool(died)) for res_id, died in rows]


def months_by(counts: dict[str, Cell], bucket: Callable[[str], str]) -> dict[str, Cell]:
    """Sum month cells into the buckets `bucket(month)` names (quarters, years)."""
    out: dict[str, Cell] = defaultdict(Cell)
    for month, cell in counts.items():
        out[bucket(month)].add(cell)
    return dict(out)
