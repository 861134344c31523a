"""Small-cell suppression, periods and the CSV table."""

from __future__ import annotations

from fhir_server.analytics.csv_table import HEADER, to_csv
from fhir_server.analytics.mortality import Cell, MortalityCounts
from fhir_server.analytics.periods import bucket_of, buckets_between, parse_period
from fhir_server.analytics.suppression import suppressed_keys
from fhir_server.analytics.table import build_table


def test_primary_and_complementary_suppression():
    assert suppressed_keys({"a": 50, "b": 30, "c": 12}, 11) == set()
    assert suppressed_keys({"a": 50, "b": 30, "c": 4}, 11) == {"c", "b"}  # b hidden too, else c = total - a - b
    assert suppressed_keys({"a": 50, "b": 3, "c": 4}, 11) == {"b", "c"}
    assert suppressed_keys({"a": 5}, 11) == {"a"}
    assert suppressed_keys({"a": 5, "b": 0}, 11) == {"a"}
    assert suppressed_keys({"a": 5, "b": 7}, 0) == set()


def test_periods():
    period = parse_period("2023-11-15", "2024-02-10")
    assert buckets_between(period, "month") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert buckets_between(period, "quarter") == ["2023-Q4", "2024-Q1"]
    assert buckets_between(period, "year") == ["2023", "2024"]
    assert bucket_of("2024-09", "quarter") == "2024-Q3"
    default = parse_period(None, None)
    assert default.low < default.high


def test_table_and_csv():
    counts = MortalityCounts()
    counts.months = {"2024-01": Cell(20, 2), "2024-02": Cell(5, 1)}
    counts.strata["department"] = {"Organization/a": {"2024-01": Cell(20, 2)}, "Organization/b": {"2024-02": Cell(5, 1)}}
    table = build_table(counts, parse_period("2024-01-01", "2024-03-31"), labels={"Organization/a": "A"},
                        minimum_cell=11, trend=("department", "month"))
    assert table.overall.total == 25 and table.overall.rate == 0.12
    assert [(r.label, r.suppressed) for r in table.stratifier("department")] == [("A", True), ("Organization/b", True)]
    assert all(r.suppressed for r in table.stratifier("department-month") if r.key == "Organization/b")
    months = {r.bucket: r.total for r in table.stratifier("month")}
    # 5 hidden, and January with it (else 25 - 20 - 0 gives February away); an empty month stays 0
    assert months == {"2024-01": None, "2024-02": None, "2024-03": 0}
    text = to_csv(table, ["department"])
    lines = text.splitlines()
    assert lines[0] == ",".join(HEADER) and lines[1].startswith("total,,All inpatient stays,,25,3,0.1200,false")
    assert lines[2] == "department,Organization/a,A,,,,,true"
