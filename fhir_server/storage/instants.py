"""Instants as integer microseconds since the Unix epoch, and their FHIR `instant` text."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

__all__ = ["now_micros", "to_instant", "to_http_date", "from_datetime", "to_datetime", "EPOCH"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_micros() -> int:
    return time.time_ns() // 1000


def to_datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def from_datetime(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_instant(micros: int) -> str:
    """`2026-11-23T09:52:05.688123+00:00`: full precision, so `_since` with it finds the version again."""
    return to_datetime(micros).isoformat(timespec="microseconds")


def to_http_date(micros: int) -> str:
    return to_datetime(micros).strftime("%a, %d %b %Y %H:%M:%S GMT")

