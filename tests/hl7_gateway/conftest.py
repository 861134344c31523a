"""Shared helpers for the gateway tests: the sample corpus copied into `samples/` (see samples/SOURCES.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"
MESSAGES = SAMPLES / "messages"
BAD = SAMPLES / "bad"
EXPECTED = SAMPLES / "expected_fhir"


def sample(name: str) -> bytes:
    """A message from samples/messages (or samples/bad) by file name or unique prefix."""
    for folder in (MESSAGES, BAD):
        found = sorted(folder.glob(f"{name}*"))
        if found:
            return found[0].read_bytes()
    raise FileNotFoundError(name)


def expected(name: str) -> dict[str, Any]:
    return json.loads((EXPECTED / name).read_text(), parse_float=Decimal)  # type: ignore[no-any-return]


def resources_of(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [e["resource"] for e in bundle["entry"]
                                   if e["resource"]["resourceType"] == resource_type]
    return found


def entry_of(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [e for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]
    assert len(found) == 1, f"{len(found)} {resource_type} entries"
    return found[0]
