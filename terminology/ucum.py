"""UCUM unit expressions: parsing, canonical form and conversion between commensurable units.

https://ucum.org/ucum (case-sensitive "c/s" codes). A unit expression such as `mmol/L`, `mg/dL`,
`10*9/L`, `mL/min/{1.73_m2}`, `kg.m-2` or `mm[Hg]` is parsed by the UCUM grammar (terms joined by
`.` and `/`, parentheses, integer exponents, metric prefixes, `{annotations}`, integer factors) into
a magnitude and a dimension over base units. Two quantities are *commensurable* when their
dimensions are equal; the canonical form of a value is its magnitude times the unit's, expressed in
the base units, so `5400 umol/L` and `5.4 mmol/L` both become `5.4 mol.m-3`.

No conversion is made between units that UCUM does not make commensurable: `mmol/L` of glucose is
never turned into `mg/dL`, which would need the substance's molar mass. The atom table lives in
`ucum_atoms.py`; Celsius and Fahrenheit (offset units) are accepted as whole expressions only.

    canonical(Decimal("5400"), "umol/L")  -> Canonical(value=Decimal("5.4"), code="mol.m-3")
    convert(Decimal("100"), "mg/dL", "g/L") -> Decimal("1")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from functools import lru_cache

from terminology.ucum_atoms import ATOMS, PREFIXES

__all__ = ["UCUM_SYSTEM", "Unit", "Canonical", "UcumError", "parse_unit", "canonical", "convert",
           "commensurable"]

UCUM_SYSTEM = "http://unitsofmeasure.org"

_CONTEXT = Context(prec=34)
# results are rounded to this many significant digits, so 98.6 [degF] is 310.15 K, not 310.15000…0248
_RESULT = Context(prec=20)
_EXPONENT = re.compile(r"(?P<unit>.*?[^\d+\-])(?P<exp>[+-]?\d+)?")
# offset units: (scale, offset) with kelvin = (value + offset) * scale
_SPECIAL = {"Cel": (Decimal(1), Decimal("273.15")), "[degF]": (Decimal(5) / Decimal(9), Decimal("459.67"))}


class UcumError(ValueError):
    """The text is not a UCUM unit expression this module knows."""


@dataclass(frozen=True, slots=True)
class Unit:
    """A parsed unit: `magnitude` in base units and the base-unit dimension (sorted, exponents != 0)."""

    magnitude: Decimal
    dimension: tuple[tuple[str, int], ...]
    offset: Decimal = Decimal(0)

    @property
    def code(self) -> str:
        """The canonical code of the dimension, e.g. `g.m-3`, `mol.m-3`, `s-1`; `1` when dimensionless."""
        if not self.dimension:
            return "1"
        return ".".join(base if exponent == 1 else f"{base}{exponent}" for base, exponent in self.dimension)


@dataclass(frozen=True, slots=True)
class Canonical:
    value: Decimal
    code: str


def _dimension(parts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((base, exponent) for base, exponent in parts.items() if exponent))


class _Parser:
    """Recursive descent over one expression (see the UCUM grammar, §2.1 and the BNF in appendix)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0

    def fail(self, why: str) -> UcumError:
        return UcumError(f"'{self.text}' is not a UCUM unit: {why} at position {self.index + 1}")

    def peek(self) -> str:
        return self.text[self.index] if self.index < len(self.text) else ""

    def main(self) -> tuple[Decimal, dict[str, int]]:
        if not self.text:
            raise self.fail("empty")
        if self.peek() == "/":
            self.index += 1
            magnitude, dims = self.term()
            result = (_CONTEXT.divide(Decimal(1), magnitude), {b: -e for b, e in dims.items()})
        else:
            result = self.term()
        if self.index != len(self.text):
            raise self.fail(f"unexpected '{self.peek()}'")
        return result

    def term(self) -> tuple[Decimal, dict[str, int]]:
        magnitude, dims = self.component()
        while self.peek() in (".", "/"):
            operator = self.peek()
            self.index += 1
            other, other_dims = self.component()
            sign = 1 if operator == "." else -1
            magnitude = _CONTEXT.multiply(magnitude, other) if sign == 1 else _CONTEXT.divide(magnitude, other)
            for base, exponent in other_dims.items():
                dims[base] = dims.get(base, 0) + sign * exponent
        return magnitude, dims

    def component(self) -> tuple[Decimal, dict[str, int]]:
        char = self.peek()
        if char == "(":
            self.index += 1
            result = self.term()
            if self.peek() != ")":
                raise self.fail("missing ')'")
            self.index += 1
            self.annotation()
            return result
        if char == "{":
            self.annotation()
            return Decimal(1), {}
        if not char or char in "./)":
            raise self.fail("a unit is missing")
        result = self.simple()
        self.annotation()
        return result

    def annotation(self) -> None:
        if self.peek() != "{":
            return
        end = self.text.find("}", self.index)
        if end < 0:
            raise self.fail("unclosed '{'")
        self.index = end + 1

    def simple(self) -> tuple[Decimal, dict[str, int]]:
        start = self.index
        while self.index < len(self.text) and self.text[self.index] not in "./(){":
            if self.text[self.index] == "[":
                end = self.text.find("]", self.index)
                if end < 0:
                    raise self.fail("unclosed '['")
                self.index = end + 1
            else:
                self.index += 1
        chunk = self.text[start:self.index]
        if chunk.isdigit():
            return Decimal(chunk), {}
        match = _EXPONENT.fullmatch(chunk)
        if match is None:
            raise self.fail(f"'{chunk}' is no unit")
        magnitude, dims = _atom(match["unit"], self)
        exponent = int(match["exp"]) if match["exp"] else 1
        return _CONTEXT.power(magnitude, exponent), {base: e * exponent for base, e in dims.items()}


def _atom(symbol: str, parser: _Parser) -> tuple[Decimal, dict[str, int]]:
    found = ATOMS.get(symbol)
    if found is not None:
        return Decimal(found[0]), dict(found[1])
    for size in (2, 1):
        prefix, rest = symbol[:size], symbol[size:]
        factor = PREFIXES.get(prefix)
        atom = ATOMS.get(rest)
        if factor is not None and atom is not None and atom[2]:
            return _CONTEXT.multiply(Decimal(factor), Decimal(atom[0])), dict(atom[1])
    raise parser.fail(f"unknown unit '{symbol}'")


@lru_cache(maxsize=4096)
def parse_unit(code: str) -> Unit:
    """The unit a UCUM code stands for; UcumError when it is not one (or uses an unknown atom)."""
    special = _SPECIAL.get(code)
    if special is not None:
        return Unit(special[0], (("K", 1),), special[1])
    if any(char.isspace() for char in code):
        raise UcumError(f"'{code}' is not a UCUM unit: it contains white space")
    magnitude, dims = _Parser(code).main()
    return Unit(magnitude, _dimension(dims))


def canonical(value: Decimal | int | float, code: str) -> Canonical:
    """`value` `code` in base units; UcumError when `code` is not a known UCUM unit."""
    unit = parse_unit(code)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        base = _CONTEXT.multiply(_CONTEXT.add(number, unit.offset), unit.magnitude)
    except InvalidOperation as exc:
        raise UcumError(f"'{value}' is not a number") from exc
    return Canonical(base.normalize(_RESULT), unit.code)


def commensurable(first: str, second: str) -> bool:
    """True when both codes are UCUM units of the same dimension."""
    try:
        return parse_unit(first).dimension == parse_unit(second).dimension
    except UcumError:
        return False


def convert(value: Decimal | int | float, source: str, target: str) -> Decimal:
    """`value` in `source` units expressed in `target` units; UcumError unless they are commensurable."""
    from_unit, to_unit = parse_unit(source), parse_unit(target)
    if from_unit.dimension != to_unit.dimension:
        raise UcumError(f"'{source}' and '{target}' are not commensurable ({from_unit.code} vs {to_unit.code})")
    base = canonical(value, source).value
    result = _CONTEXT.subtract(_CONTEXT.divide(base, to_unit.magnitude), to_unit.offset)
    return result.normalize(_RESULT)
