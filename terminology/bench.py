"""Measure the terminology operations: calls per second of $lookup and $validate-code, and the time to
expand a value set of about a thousand codes (cold, then cached).

    python -m terminology.bench            # prints the figures
    python -m terminology.bench --seconds 2

Targets: $lookup and $validate-code at 2,000 calls/s or more in one thread, $expand of a 1,000-code
value set in 50 ms or less. `measure()` returns the figures for tests.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from terminology.expand import expand
from terminology.lookup import lookup
from terminology.store import TerminologyStore
from terminology.validate_code import code_system_validate_code, value_set_validate_code

__all__ = ["Figures", "measure", "thousand_code_system"]

BENCH_SYSTEM = "http://example.org/fhir/CodeSystem/bench-thousand"
BENCH_VALUE_SET = "http://example.org/fhir/ValueSet/bench-thousand"
LOINC = "http://loinc.org"
GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
GENDER = "http://hl7.org/fhir/administrative-gender"


@dataclass(frozen=True)
class Figures:
    lookup_per_second: float
    validate_code_value_set_per_second: float
    validate_code_code_system_per_second: float
    expand_cold_ms: float
    expand_cached_ms: float
    expanded_codes: int

    def report(self) -> str:
        return "\n".join((
            f"$lookup (LOINC 2160-0):                      {self.lookup_per_second:>10,.0f} calls/s",
            f"ValueSet/$validate-code (administrative-gender):{self.validate_code_value_set_per_second:>8,.0f} calls/s",
            f"CodeSystem/$validate-code (LOINC):           {self.validate_code_code_system_per_second:>10,.0f} calls/s",
            f"$expand of {self.expanded_codes:,} codes, first (compile + expand): {self.expand_cold_ms:8.2f} ms",
            f"$expand of {self.expanded_codes:,} codes, cached expansion:         {self.expand_cached_ms:8.2f} ms",
        ))


def thousand_code_system(size: int = 1000) -> list[dict[str, Any]]:
    """A CodeSystem of `size` codes (a multiple of ten) in a three-level hierarchy and the ValueSet of all of them (is-a root)."""
    per_group = size // 10 - 1  # ten groups of a group concept and its children, and the root
    groups = [{"code": f"G{g}", "display": f"Group {g}", "concept": [
        {"code": f"C{g}-{i}", "display": f"Concept {g}-{i}", "definition": f"Concept {i} of group {g}"}
        for i in range(per_group - (1 if g == 9 else 0))
    ]} for g in range(10)]
    root = {"code": "ROOT", "display": "All concepts", "concept": groups}
    code_system = {"resourceType": "CodeSystem", "url": BENCH_SYSTEM, "status": "active", "content": "complete",
                   "hierarchyMeaning": "is-a", "concept": [root]}
    value_set = {"resourceType": "ValueSet", "url": BENCH_VALUE_SET, "status": "active",
                 "compose": {"include": [{"system": BENCH_SYSTEM,
                                          "filter": [{"property": "concept", "op": "is-a", "value": "ROOT"}]}]}}
    return [code_system, value_set]


def _rate(call: Callable[[], Any], seconds: float) -> float:
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            call()
        calls += 100
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def measure(store: TerminologyStore | None = None, *, seconds: float = 0.5) -> Figures:
    store = store or TerminologyStore()
    store.add_all(thousand_code_system())
    rate_lookup = _rate(lambda: lookup(store, system=LOINC, code="2160-0"), seconds)
    rate_vs = _rate(lambda: value_set_validate_code(store, url=GENDER_VS, system=GENDER, code="female",
                                                    display="Female"), seconds)
    rate_cs = _rate(lambda: code_system_validate_code(store, url=LOINC, code="718-7"), seconds)
    start = time.perf_counter()
    first = expand(store, url=BENCH_VALUE_SET)
    cold = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    runs = 20
    for _ in range(runs):
        expand(store, url=BENCH_VALUE_SET)
    cached = (time.perf_counter() - start) * 1000 / runs
    return Figures(rate_lookup, rate_vs, rate_cs, cold, cached, first["expansion"]["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent on each rate (default 1)")
    args = parser.parse_args()
    start = time.perf_counter()
    store = TerminologyStore()
    print(f"store loaded in {(time.perf_counter() - start) * 1000:.0f} ms")
    print(measure(store, seconds=args.seconds).report())


if __name__ == "__main__":
    main()
