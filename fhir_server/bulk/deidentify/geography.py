"""Geography in de-identified output (HIPAA 45 CFR 164.514(b)(2)(i)(B)).

Every subdivision smaller than a state is removed, except the first three digits of a US ZIP code
when the area they cover holds more than 20,000 people; the 3-digit ZIPs that do not (the 17 the
HHS guidance lists from the 2000 Census) become `000`. Postal codes of other countries are removed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RESTRICTED_ZIP3", "generalise_address"]

RESTRICTED_ZIP3 = frozenset({"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831",
                             "878", "879", "884", "890", "893"})
US = frozenset({"US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA"})
KEPT = ("use", "type", "state", "country")


def _zip3(postal_code: str) -> str | None:
    digits = postal_code.strip()[:3]
    if len(digits) != 3 or not digits.isdigit():
        return None
    return "000" if digits in RESTRICTED_ZIP3 else digits


def generalise_address(address: dict[str, Any]) -> dict[str, Any] | None:
    """The address with state, country and (US) 3-digit ZIP only; None when nothing is left."""
    out = {key: address[key] for key in KEPT if isinstance(address.get(key), str)}
    postal = address.get("postalCode")
    country = str(address.get("country", "US")).upper()
    if isinstance(postal, str) and country in US and (zip3 := _zip3(postal)) is not None:
        out["postalCode"] = zip3
    return out if set(out) - {"use", "type"} else None
