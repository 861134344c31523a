"""Lab results and condition mentions from a report's text.

    extractor = LabExtractor()
    found = extractor.extract(document_text)      # a DocumentText from ocr.read_document, or a str
    for result in found.results: result.loinc, result.value, result.unit, result.flag, result.needs_review

For each test name the spaCy pipeline finds (`language.py`), the rest of its line — up to the next
test name on the same line — is read by the result grammar (`result_line.py`). A name with no value
after it is a mention, not a result, and is dropped; so is a one- or two-letter name (`Na`, `K`,
`Hb`) whose number has neither a unit nor a range beside it, which in OCR noise is usually chance.
The LOINC code is chosen by the unit; the flag is the printed one (H, L, HH, LL, A, N — HL7 v3
ObservationInterpretation codes) or, when none is printed, derived from the printed range (H above,
L below, N within); a printed flag whose OCR confidence is low and which the range contradicts is
replaced by the derived one, and says so. Each result says how sure the
reading is (the OCR confidence of the value's word) and, when a person should look, why:
a fuzzy test name, a repaired digit, low OCR confidence, an unknown unit, a unit that does not fit
the test, or a printed flag that the printed range contradicts. Nothing is guessed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal, cast

from spacy.tokens import Span

from ai_pipeline.document import DocumentText
from ai_pipeline.nlp.language import report_language
from ai_pipeline.nlp.lexicon import conditions, lab_tests
from ai_pipeline.nlp.report_header import Header, find_headers, header_for
from ai_pipeline.nlp.result_line import ResultReading, read_result
from ai_pipeline.nlp.spelling import compact
from ai_pipeline.units import closest_unit

__all__ = ["LabExtractor", "LabResult", "ConditionMention", "LabExtraction", "Flag", "derive_flag"]

Flag = Literal["H", "L", "HH", "LL", "A", "N"]


@dataclass(frozen=True, slots=True)
class LabResult:
    """One result as read from a report. `value` is the decimal's text exactly as printed (repaired)."""

    test_key: str
    test_name: str
    label: str
    loinc: str
    loinc_display: str
    value: str
    comparator: str | None
    unit: str | None
    unit_text: str | None
    flag: Flag | None
    flag_derived: bool
    reference_low: str | None
    reference_high: str | None
    reference_text: str | None
    specimen: str | None
    collected: datetime | date | None
    confidence: float
    needs_review: bool
    review_reasons: tuple[str, ...]
    start: int
    end: int
    page: int

    @property
    def decimal_value(self) -> Decimal:
        return Decimal(self.value)

    @property
    def fields(self) -> tuple[str, str, str | None, str | None]:
        """(test LOINC, value, UCUM unit, flag): what the accuracy figures compare."""
        return (self.loinc, self.value, self.unit, self.flag)


@dataclass(frozen=True, slots=True)
class ConditionMention:
    """A condition named in the text, with its codes and ConText assertion."""

    key: str
    name: str
    snomed: str
    icd10: str
    text: str
    negated: bool
    uncertain: bool
    family: bool
    triggers: tuple[str, ...]
    start: int
    end: int

    @property
    def affirmed(self) -> bool:
        """Said of the patient, as present and certain."""
        return not (self.negated or self.uncertain or self.family)


@dataclass(frozen=True, slots=True)
class LabExtraction:
    """Everything extracted from one document."""

    results: tuple[LabResult, ...]
    conditions: tuple[ConditionMention, ...]
    text: str

    @property
    def is_lab_report(self) -> bool:
        return bool(self.results)

    @property
    def needs_review(self) -> tuple[LabResult, ...]:
        return tuple(r for r in self.results if r.needs_review)


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def derive_flag(value: Decimal, comparator: str | None, low: Decimal | None, high: Decimal | None) -> Flag | None:
    """N, H or L from the printed range; None when the range cannot decide (no range, censored value)."""
    if low is None and high is None:
        return None
    if comparator in ("<", "<="):
        if low is not None and value <= low:
            return "L"
        return "N" if high is None or value <= high else None
    if comparator in (">", ">="):
        if high is not None and value >= high:
            return "H"
        return "N" if low is None or value >= low else None
    if high is not None and value > high:
        return "H"
    if low is not None and value < low:
        return "L"
    return "N"


class LabExtractor:
    """Reads lab results and condition mentions; one instance can serve many documents."""

    def __init__(self, *, review_below_confidence: float = 80.0, day_first: bool = True) -> None:
        self._nlp = report_language()
        self._tests = {test.key: test for test in lab_tests()}
        self._conditions = {concept.key: concept for concept in conditions()}
        self._review_below = review_below_confidence
        self._day_first = day_first

    def extract(self, source: DocumentText | str) -> LabExtraction:
        document = source if isinstance(source, DocumentText) else None
        text = source.text if isinstance(source, DocumentText) else source
        doc = self._nlp(text)
        headers = find_headers(text, day_first=self._day_first)
        names = list(doc.spans["lab_tests"])
        results = []
        for index, name in enumerate(names):
            line_end = text.find("\n", name.end_char)
            stop = len(text) if line_end < 0 else line_end
            following = names[index + 1] if index + 1 < len(names) else None
            if following is not None and following.start_char < stop:
                stop = following.start_char
            reading = read_result(text[name.end_char:stop])
            if reading is None or (len(compact(name.text)) <= 2 and reading.unit_text is None
                                   and reading.range_text is None):
                continue  # no value; or a one- or two-letter name ("Na 5") with nothing to corroborate it
            results.append(self._result(name.label_, name.text, name._.ai_match, name.start_char, name.end_char,
                                        reading, headers, document))
        mentions = tuple(self._mention(span) for span in doc.spans["conditions"])
        return LabExtraction(tuple(results), mentions, text)

    def _result(self, key: str, label: str, match: str, start: int, offset: int, reading: ResultReading,
                headers: list[Header], document: DocumentText | None) -> LabResult:
        test = self._tests[key]
        reasons: list[str] = []
        unit = reading.unit
        if unit is None and reading.unit_text:
            unit = closest_unit(reading.unit_text, tuple(u for c in test.codes for u in c.units))
            if unit is not None:
                reasons.append(f"unit '{reading.unit_text}' read as {unit}")
        code, unit_decided = test.code_for(unit)
        if match == "fuzzy":
            reasons.append(f"test name '{label}' matched approximately to {test.name}")
        if reading.repaired:
            reasons.append("OCR look-alike characters repaired in the value")
        if reading.flag_repaired:
            reasons.append("OCR look-alike characters repaired in the flag")
        if reading.unit_text and unit is None:
            reasons.append(f"unit '{reading.unit_text}' not recognised")
        elif unit is not None and not unit_decided:
            reasons.append(f"unit {unit} is not one {test.name} is reported in")
        elif unit is None and "" not in code.units:
            reasons.append("no unit printed")
        value = Decimal(reading.value)
        derived = derive_flag(value, reading.comparator, _decimal(reading.range_low), _decimal(reading.range_high))
        flag = cast(Flag | None, reading.flag if reading.flag is not None else derived)
        flag_derived = reading.flag is None and derived is not None
        if reading.flag is not None and derived is not None and not _agrees(reading.flag, derived):
            flag_confidence = self._confidence(document, offset, reading.flag_span)
            if flag_confidence < self._review_below:
                flag, flag_derived = derived, True
                reasons.append(f"doubtful printed flag '{reading.flag}' (OCR confidence {flag_confidence:.0f}) "
                               f"replaced by {derived} from the range {reading.range_text}")
            else:
                reasons.append(f"printed flag {reading.flag} disagrees with the range {reading.range_text}")
        end = offset + reading.end
        confidence = self._confidence(document, offset, reading.value_span)
        if confidence < self._review_below:
            reasons.append(f"OCR confidence {confidence:.0f} is below {self._review_below:.0f}")
        specimen, collected = header_for(headers, start)
        return LabResult(
            test_key=key, test_name=test.name, label=label, loinc=code.loinc, loinc_display=code.display,
            value=reading.value, comparator=reading.comparator, unit=unit, unit_text=reading.unit_text,
            flag=flag, flag_derived=flag_derived,
            reference_low=reading.range_low, reference_high=reading.range_high, reference_text=reading.range_text,
            specimen=specimen, collected=collected, confidence=confidence, needs_review=bool(reasons),
            review_reasons=tuple(reasons), start=start, end=end,
            page=document.page_of(start) if document is not None else 1,
        )

    @staticmethod
    def _confidence(document: DocumentText | None, offset: int, span: tuple[int, int] | None) -> float:
        if document is None or span is None:
            return 100.0
        return document.confidence(offset + span[0], offset + span[1])

    def _mention(self, span: Span) -> ConditionMention:
        concept = self._conditions[span.label_]
        assertion = span._.ai_assertion
        return ConditionMention(
            key=concept.key, name=concept.name, snomed=concept.snomed, icd10=concept.icd10, text=span.text,
            negated=assertion.negated, uncertain=assertion.uncertain, family=assertion.family,
            triggers=assertion.triggers, start=span.start_char, end=span.end_char,
        )


def _agrees(printed: str, derived: str) -> bool:
    """A printed flag agrees with the range when both say high, both low, or both normal."""
    direction = {"H": "H", "HH": "H", "L": "L", "LL": "L", "N": "N", "A": "A"}
    if printed == "A":
        return derived != "N"
    return direction[printed] == direction[derived]
