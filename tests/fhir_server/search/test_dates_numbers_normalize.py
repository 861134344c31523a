from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fhir_server.search.dates import parse_date_range
from fhir_server.search.normalize import normalize
from fhir_server.search.numbers import number_range, parse_number


def micros(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()) * 1_000_000


@pytest.mark.parametrize(("text", "low", "high"), [
    ("2024", micros(2024, 1, 1), micros(2025, 1, 1) - 1),
    ("2024-02", micros(2024, 2, 1), micros(2024, 3, 1) - 1),  # leap year February
    ("2023-12", micros(2023, 12, 1), micros(2024, 1, 1) - 1),
    ("2024-03-05", micros(2024, 3, 5), micros(2024, 3, 6) - 1),
    ("2024-03-05T10:00", micros(2024, 3, 5, 10), micros(2024, 3, 5, 10, 1) - 1),
    ("2024-03-05T10:00:30Z", micros(2024, 3, 5, 10, 0, 30), micros(2024, 3, 5, 10, 0, 31) - 1),
    ("2024-03-05T10:00:30+02:00", micros(2024, 3, 5, 8, 0, 30), micros(2024, 3, 5, 8, 0, 31) - 1),
    ("2024-03-05T10:00:30.25-01:30", micros(2024, 3, 5, 11, 30, 30) + 250_000,
     micros(2024, 3, 5, 11, 30, 30) + 259_999),
    ("2024-03-05T10:00:30.123456789Z", micros(2024, 3, 5, 10, 0, 30) + 123_456,
     micros(2024, 3, 5, 10, 0, 30) + 123_456),
    ("1969-07-20", micros(1969, 7, 20), micros(1969, 7, 21) - 1),
])
def test_date_ranges_follow_precision(text: str, low: int, high: int) -> None:
    assert parse_date_range(text) == (low, high)


def test_far_dates_do_not_overflow() -> None:
    low, high = parse_date_range("9999")
    assert low < high and parse_date_range("0001-01-01")[0] < 0


@pytest.mark.parametrize("text", ["24", "2024-13", "2024-02-30", "2023-02-29", "2024-03-05T25:00", "2024-3-5",
                                  "2024-03-05T10:00+15:00", "yesterday", ""])
def test_invalid_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date_range(text)


@pytest.mark.parametrize(("value", "expected"), [
    (100, (100.0, 99.5, 100.5)),
    (Decimal("100"), (100.0, 99.5, 100.5)),
    (Decimal("100.00"), (100.0, 99.995, 100.005)),
    (Decimal("1e2"), (100.0, 50.0, 150.0)),
    (Decimal("-0.5"), (-0.5, -0.55, -0.45)),
])
def test_number_ranges_follow_significant_digits(value: Decimal | int, expected: tuple[float, float, float]) -> None:
    assert number_range(value) == pytest.approx(expected)


def test_parse_number_keeps_digits_and_refuses_garbage() -> None:
    assert str(parse_number("5.40")) == "5.40"
    for text in ("abc", "1,5", "", "1e", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            parse_number(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("Müller", "muller"),
    ("O'Brien", "obrien"),
    ("  Martin-Duval ", "martin duval"),
    ("Chloé\tZOË", "chloe zoe"),
    ("Straße", "strasse"),
    ("50%_off", "50 off"),
    ("日本", "日本"),
    ("---", ""),
])
def test_normalize_folds_case_accents_punctuation(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_ascii_fast_path_agrees_with_unicode_path() -> None:
    for code in range(128):
        char = chr(code)
        # appending an accented letter forces the Unicode path for the same ASCII character
        assert normalize(char + "é") == normalize(char + "e"), repr(char)
