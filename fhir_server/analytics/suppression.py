"""Small-cell suppression: counts too small to publish are withheld from analysts.

Primary suppression withholds every stratum whose denominator is at least 1 and below the minimum
cell size (e.g. 11, as the CMS cell-size policy uses). Complementary suppression then withholds the
next smallest stratum of the same group whenever exactly one was withheld, so the hidden count cannot
be recovered by subtracting the others from the total. A stratifier whose strata are grouped (the
quarters of each department) is treated group by group.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

__all__ = ["suppressed_keys"]


def suppressed_keys(totals: Mapping[Hashable, int], minimum: int) -> set[Hashable]:
    """The keys of `totals` (stratum -> denominator) to withhold at minimum cell size `minimum`."""
    if minimum <= 1:
        return set()
    hidden = {key for key, total in totals.items() if 0 < total < minimum}
    if len(hidden) == 1 and len(totals) > 1:
        visible = [(total, str(key), key) for key, total in totals.items() if key not in hidden and total > 0]
        if visible:
            hidden.add(min(visible)[2])
    return hidden
