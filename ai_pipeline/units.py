"""Units: the UCUM code for a unit as printed on a report, and the few conversions the rules need.

UCUM (https://ucum.org/ucum) is the unit system FHIR Quantity uses (`system` http://unitsofmeasure.org).
`ucum_code()` maps what labs print (`µmol/L`, `x10^9/L`, `mIU/L`, `mL/min/1.73m2`) to UCUM codes,
tolerating the OCR slips that are common in unit columns (`l`/`1`/`I`, `O`/`0`, `^` read as `*`, `%`
or `7`). `convert()` is a deliberately small, explicit table, one analyte at a time, because some
conversions depend on the substance (creatinine's molar mass is not glucose's). A general UCUM
library (the `terminology` package, when it exists) may replace the table; these factors are:

- creatinine 1 mg/dL = 88.4 µmol/L (KDIGO 2012 CKD guideline, conversion table);
- glucose 1 mmol/L = 18.016 mg/dL (molar mass 180.16 g/mol);
- HbA1c IFCC mmol/mol = 10.929 × (NGSP % − 2.15) (Hoelzel et al., Clin Chem 2004;50:166–174);
- haemoglobin 1 g/dL = 10 g/L; albumin likewise;
- urine albumin/creatinine 1 mg/mmol = 8.84 mg/g (creatinine 113.12 g/mol; KDIGO 2012/2024);
- potassium and sodium 1 mmol/L = 1 meq/L (monovalent ions);
- temperature °F = °C × 9/5 + 32;
- rates: `{breaths}/min` and `{beats}/min` are `/min`; a fraction of 1 is 100 %.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

__all__ = ["ucum_code", "closest_unit", "convert", "UnitConversionError", "UCUM_SYSTEM", "fold_unit"]

UCUM_SYSTEM = "http://unitsofmeasure.org"


class UnitConversionError(ValueError):
    """No conversion between these units is known for this analyte."""


_ALIASES: dict[str, tuple[str, ...]] = {
    "umol/L": ("umol/l", "µmol/l", "μmol/l", "micromol/l", "umo1/l"),
    "mmol/L": ("mmol/l", "mmo1/l", "mm/l"),
    "nmol/L": ("nmol/l",),
    "pmol/L": ("pmol/l",),
    "meq/L": ("meq/l", "mequiv/l"),
    "mg/dL": ("mg/dl", "mg%", "mg/100ml"),
    "g/dL": ("g/dl",),
    "g/L": ("g/l",),
    "mg/L": ("mg/l",),
    "ug/L": ("ug/l", "µg/l", "μg/l", "mcg/l"),
    "ng/L": ("ng/l",),
    "ng/mL": ("ng/ml",),
    "pg/mL": ("pg/ml",),
    "ng/dL": ("ng/dl",),
    "%": ("%", "percent"),
    "mmol/mol": ("mmol/mol", "mmol/molhb"),
    "U/L": ("u/l", "iu/l", "units/l"),
    "m[IU]/L": ("miu/l", "mu/l", "mlu/l", "mui/l"),
    "u[IU]/mL": ("uiu/ml", "µiu/ml", "μiu/ml", "microiu/ml"),
    "mL/min/{1.73_m2}": ("ml/min/1.73m2", "ml/min/1.73m²", "ml/min/1.73m^2", "ml/min/1.73sqm", "ml/min/1.73",
                         "ml/min/1.73msq", "ml/min/1.73m*2", "ml/min/1,73m2", "ml/minper1.73m2"),
    "mg/mmol": ("mg/mmol", "mg/mmolcreat", "mg/mmolcr"),
    "mg/g": ("mg/g", "mg/gcreat", "mg/gcr", "ug/mg", "µg/mg"),
    "fL": ("fl",),
    "pg": ("pg",),
    "L/L": ("l/l",),
    "mm/h": ("mm/h", "mm/hr", "mm/1h", "mm/hour"),
    "s": ("s", "sec", "secs", "seconds"),
    "{INR}": ("inr", "ratio"),
    "/min": ("/min", "bpm", "beats/min", "breaths/min"),
    "mm[Hg]": ("mmhg",),
    "Cel": ("°c", "degc", "c", "celsius"),
    "[degF]": ("°f", "degf", "f", "fahrenheit"),
    "L/min": ("l/min",),
}

_EXPONENT = re.compile(r"^(?:x|×|\*)?10[\^*%°e7\-]{0,2}(9|12|3|6)/(l|ul|µl|μl|nl)$")
_EXPONENT_UNITS = {("9", "l"): "10*9/L", ("12", "l"): "10*12/L", ("3", "ul"): "10*3/uL",
                   ("6", "ul"): "10*6/uL", ("9", "nl"): "10*9/L"}
_SUPERSCRIPTS = str.maketrans({"⁹": "9", "³": "3", "⁶": "6", "¹": "1", "²": "2", "⁰": "0", "⁻": "-"})
_OCR_FOLD = str.maketrans({"1": "l", "|": "l", "i": "l", "0": "o", "μ": "u", "µ": "u"})
_COUNTS = {"k/ul": "10*3/uL", "thou/ul": "10*3/uL", "giga/l": "10*9/L", "/nl": "10*9/L", "m/ul": "10*6/uL",
           "t/l": "10*12/L"}


def fold_unit(text: str) -> str:
    """A unit's text with case, blanks, trailing dots and OCR look-alikes folded together."""
    folded = text.strip().rstrip(".,;:").lower().replace(" ", "").translate(_SUPERSCRIPTS)
    return folded.replace("rn", "m").translate(_OCR_FOLD)


_BY_FOLD: dict[str, str] = {}
for _code, _spellings in _ALIASES.items():
    for _spelling in (_code.lower(), *_spellings):
        _BY_FOLD.setdefault(fold_unit(_spelling), _code)


def ucum_code(text: str) -> str | None:
    """The UCUM code for a printed unit, or None when it is not one the pipeline knows."""
    raw = text.strip().rstrip(".,;:").replace(" ", "").translate(_SUPERSCRIPTS)
    if not raw:
        return None
    lowered = raw.lower().replace("µ", "u").replace("μ", "u")
    if lowered[-2:] in ("/1", "/i", "/|"):
        lowered = lowered[:-1] + "l"
    match = _EXPONENT.match(lowered)
    if match:
        return _EXPONENT_UNITS.get((match.group(1), match.group(2).replace("µ", "u").replace("μ", "u")))
    if lowered in _COUNTS:
        return _COUNTS[lowered]
    return _BY_FOLD.get(fold_unit(raw))


def closest_unit(text: str, candidates: tuple[str, ...]) -> str | None:
    """The one UCUM code among `candidates` whose spelling is a single edit from `text` (`mimol/L`)."""
    from ai_pipeline.nlp.spelling import edit_distance

    folded = fold_unit(text)
    if len(folded) < 4:
        return None
    hits = {code for code in candidates if code
            for spelling in (code.lower(), *_ALIASES.get(code, ()))
            if edit_distance(folded, fold_unit(spelling), 1) <= 1}
    return hits.pop() if len(hits) == 1 else None


_Rate = Callable[[Decimal], Decimal]


def _scale(factor: str) -> tuple[_Rate, _Rate]:
    f = Decimal(factor)
    return (lambda v: v * f), (lambda v: v / f)


_TABLE: dict[tuple[str, str, str], _Rate] = {}


def _pair(analyte: str, a: str, b: str, forward: _Rate, backward: _Rate) -> None:
    _TABLE[(analyte, a, b)] = forward
    _TABLE[(analyte, b, a)] = backward


_pair("creatinine", "mg/dL", "umol/L", *_scale("88.4"))
_pair("glucose", "mmol/L", "mg/dL", *_scale("18.016"))
_pair("hba1c", "%", "mmol/mol",
      lambda v: (v - Decimal("2.15")) * Decimal("10.929"), lambda v: v / Decimal("10.929") + Decimal("2.15"))
_pair("haemoglobin", "g/dL", "g/L", *_scale("10"))
_pair("albumin", "g/dL", "g/L", *_scale("10"))
_pair("acr", "mg/mmol", "mg/g", *_scale("8.84"))
_pair("electrolyte", "mmol/L", "meq/L", *_scale("1"))
_pair("temperature", "Cel", "[degF]",
      lambda v: v * Decimal(9) / Decimal(5) + 32, lambda v: (v - 32) * Decimal(5) / Decimal(9))
_pair("cell-count", "10*9/L", "10*3/uL", *_scale("1"))
_pair("rate", "{breaths}/min", "/min", *_scale("1"))
_pair("rate", "{beats}/min", "/min", *_scale("1"))
_pair("fraction", "1", "%", *_scale("100"))


def convert(value: Decimal, unit: str, to: str, *, analyte: str) -> Decimal:
    """`value` in `unit` expressed in `to` for `analyte` (a key of the table above)."""
    if unit == to:
        return value
    try:
        return _TABLE[(analyte, unit, to)](value)
    except KeyError:
        raise UnitConversionError(f"no conversion of {analyte} from '{unit}' to '{to}'") from None
