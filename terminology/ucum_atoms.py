"""The UCUM atoms and prefixes `terminology.ucum` understands (https://ucum.org/ucum, c/s codes).

Each atom is defined by a magnitude (a decimal string, exact) and its dimension in base units. The
UCUM base units are m, s, g, rad, K, C and cd. Two departures, both conservative:

- `mol` (and `eq`, `osm`) are kept as a base of their own rather than as 6.0221367e23 (a pure
  number), so an amount of substance never compares equal to a count (`10*9/L`);
- arbitrary units (`[IU]`, `[iU]`, `[arb'U]`...) are bases of their own, commensurable only with
  themselves, as UCUM says.

Only the atoms marked metric take prefixes. Celsius and Fahrenheit are the special (offset) units
the clinic uses; they are handled in `ucum.py`, not here.
"""

from __future__ import annotations

__all__ = ["PREFIXES", "ATOMS", "Atom"]

# (magnitude, {base: exponent}, metric)
Atom = tuple[str, dict[str, int], bool]

PREFIXES: dict[str, str] = {
    "Y": "1e24", "Z": "1e21", "E": "1e18", "P": "1e15", "T": "1e12", "G": "1e9", "M": "1e6", "k": "1e3",
    "h": "1e2", "da": "1e1", "d": "1e-1", "c": "1e-2", "m": "1e-3", "u": "1e-6", "n": "1e-9", "p": "1e-12",
    "f": "1e-15", "a": "1e-18", "z": "1e-21", "y": "1e-24",
}

_LENGTH = {"m": 1}
_MASS = {"g": 1}
_TIME = {"s": 1}
_VOLUME = {"m": 3}
_PRESSURE = {"g": 1, "m": -1, "s": -2}
_ENERGY = {"g": 1, "m": 2, "s": -2}
_NONE: dict[str, int] = {}

ATOMS: dict[str, Atom] = {
    # base units
    "m": ("1", _LENGTH, True),
    "s": ("1", _TIME, True),
    "g": ("1", _MASS, True),
    "rad": ("1", {"rad": 1}, True),
    "K": ("1", {"K": 1}, True),
    "C": ("1", {"C": 1}, True),
    "cd": ("1", {"cd": 1}, True),
    "mol": ("1", {"mol": 1}, True),
    "eq": ("1", {"mol": 1}, True),
    "osm": ("1", {"mol": 1}, True),
    # dimensionless numbers
    "10*": ("10", _NONE, False),
    "10^": ("10", _NONE, False),
    "[pi]": ("3.1415926535897932384626433832795028841971693993751058209749445923", _NONE, False),
    "%": ("1e-2", _NONE, False),
    "[ppth]": ("1e-3", _NONE, False),
    "[ppm]": ("1e-6", _NONE, False),
    "[ppb]": ("1e-9", _NONE, False),
    "[pptr]": ("1e-12", _NONE, False),
    # time
    "min": ("60", _TIME, False),
    "h": ("3600", _TIME, False),
    "d": ("86400", _TIME, False),
    "wk": ("604800", _TIME, False),
    "mo": ("2629800", _TIME, False),  # mean Julian month
    "a": ("31557600", _TIME, False),  # mean Julian year
    "Hz": ("1", {"s": -1}, True),
    # volume
    "L": ("1e-3", _VOLUME, True),
    "l": ("1e-3", _VOLUME, True),
    "[gal_us]": ("0.003785411784", _VOLUME, False),
    "[qt_us]": ("0.000946352946", _VOLUME, False),
    "[pt_us]": ("0.000473176473", _VOLUME, False),
    "[foz_us]": ("0.0000295735295625", _VOLUME, False),
    "[tsp_us]": ("0.00000492892159375", _VOLUME, False),
    "[tbs_us]": ("0.00001478676478125", _VOLUME, False),
    "[cup_us]": ("0.0002365882365", _VOLUME, False),
    "[drp]": ("5e-8", _VOLUME, False),  # 1/20 mL
    # length
    "[in_i]": ("0.0254", _LENGTH, False),
    "[ft_i]": ("0.3048", _LENGTH, False),
    "[yd_i]": ("0.9144", _LENGTH, False),
    "[mi_i]": ("1609.344", _LENGTH, False),
    "Ao": ("1e-10", _LENGTH, False),
    # mass
    "t": ("1e6", _MASS, True),
    "u": ("1.6605402e-24", _MASS, True),
    "[lb_av]": ("453.59237", _MASS, False),
    "[oz_av]": ("28.349523125", _MASS, False),
    "[gr]": ("0.06479891", _MASS, False),
    "[stone_av]": ("6350.29318", _MASS, False),
    # area
    "ar": ("100", {"m": 2}, True),
    "[sin_i]": ("0.00064516", {"m": 2}, False),
    # force, pressure, energy, power
    "N": ("1000", {"g": 1, "m": 1, "s": -2}, True),
    "Pa": ("1000", _PRESSURE, True),
    "bar": ("1e8", _PRESSURE, True),
    "atm": ("101325000", _PRESSURE, False),
    "m[Hg]": ("133322000", _PRESSURE, True),
    "m[H2O]": ("9806650", _PRESSURE, True),
    "[in_i'Hg]": ("3386388.64", _PRESSURE, False),
    "[psi]": ("6894757.2931783", _PRESSURE, False),
    "J": ("1000", _ENERGY, True),
    "cal": ("4184", _ENERGY, True),
    "[Cal]": ("4184000", _ENERGY, False),
    "W": ("1000", {"g": 1, "m": 2, "s": -3}, True),
    # electricity
    "A": ("1", {"C": 1, "s": -1}, True),
    "V": ("1000", {"g": 1, "m": 2, "s": -2, "C": -1}, True),
    "Ohm": ("1000", {"g": 1, "m": 2, "s": -1, "C": -2}, True),
    # catalytic activity: U is umol/min
    "kat": ("1", {"mol": 1, "s": -1}, True),
    "U": ("1.6666666666666666666666666666666666666666666666666666666666666667e-8", {"mol": 1, "s": -1}, True),
    # arbitrary units: commensurable with themselves only
    "[IU]": ("1", {"[IU]": 1}, True),
    "[iU]": ("1", {"[IU]": 1}, True),
    "[arb'U]": ("1", {"[arb'U]": 1}, False),
    "[USP'U]": ("1", {"[USP'U]": 1}, False),
    "[CFU]": ("1", {"[CFU]": 1}, True),
    # angle
    "deg": ("0.0174532925199432957692369076848861271344287188854172545609719144", {"rad": 1}, False),
}
