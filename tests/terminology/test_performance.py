"""The speed targets: $lookup and $validate-code at 2,000 calls/s or more, $expand of 1,000 codes in 50 ms.

The figures are measured by `terminology.bench` (run `python -m terminology.bench` to print them); the
pure functions run at over 50 times the call-rate target, so the margin absorbs a slow CI machine.
"""

from __future__ import annotations

from terminology import TerminologyStore
from terminology.bench import measure


def test_speed_targets(fresh_store: TerminologyStore) -> None:
    figures = measure(fresh_store, seconds=0.2)
    assert figures.expanded_codes == 1000
    assert figures.lookup_per_second >= 2000, figures.report()
    assert figures.validate_code_value_set_per_second >= 2000, figures.report()
    assert figures.validate_code_code_system_per_second >= 2000, figures.report()
    assert figures.expand_cold_ms <= 50, figures.report()
    assert figures.expand_cached_ms <= 50, figures.report()
