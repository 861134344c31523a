"""The spaCy pipeline: a blank English tokenizer and rule components, no statistical model.

    nlp = report_language()
    doc = nlp(text)
    doc.spans["lab_tests"]     # test names (label = lexicon key; span._.ai_match exact/folded/fuzzy)
    doc.spans["conditions"]    # condition mentions (label = key; span._.ai_assertion = Assertion)

`spacy.blank("en")` needs no download. The components, in order:

- `ai_ocr_norm` sets each token's NORM to its OCR-folded form (`spelling.fold`), so the phrase
  matchers, which match on NORM, treat `HbAlc` as `HbA1c` and `Sl` as `SI`;
- `ai_report_sentences` starts a sentence at every line (a report is a table, one result a line) and
  after a full stop (numbers keep their decimal point inside one token), never at `?`, which reports
  use as "query";
- `ai_lab_tests` finds test names: a `PhraseMatcher` over every lexicon synonym anywhere in the text,
  then, per line, the whole label before the first value compared in compact folded form (spacing
  and punctuation vary), and only when both fail a bounded edit distance on the label (`fuzzy`);
- `ai_conditions` finds condition mentions outside test names (`eGFR (CKD-EPI)` names no disease),
  matching on lower case, not on folded forms: folding would make `mL` read as `MI`; then it sets
  each mention's assertion with the ConText rules (`context.py`).
"""

from __future__ import annotations

from functools import cache
from typing import cast

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Span
from spacy.util import compile_infix_regex, filter_spans

from ai_pipeline.nlp.context import ContextRules
from ai_pipeline.nlp.lexicon import conditions, lab_tests
from ai_pipeline.nlp.spelling import compact, edit_distance, fold, repair_number

__all__ = ["report_language"]

Span.set_extension("ai_match", default=None, force=True)
Span.set_extension("ai_assertion", default=None, force=True)

_FUZZY_MIN_LENGTH = 5


def _normed(nlp: Language, text: str) -> Doc:
    doc = nlp.make_doc(text)
    for token in doc:
        token.norm_ = fold(token.text)
    return doc


@Language.component("ai_ocr_norm")
def ocr_norm(doc: Doc) -> Doc:
    for token in doc:
        token.norm_ = fold(token.text)
    return doc


@Language.component("ai_report_sentences")
def report_sentences(doc: Doc) -> Doc:
    for i, token in enumerate(doc):
        if i == 0:
            token.is_sent_start = True
            continue
        previous = doc[i - 1]
        token.is_sent_start = ("\n" in previous.text and previous.is_space) or previous.text in (".", "!")
    return doc


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _value_like(text: str) -> bool:
    return text[:1].isdigit() or text[:1] in "<>≤≥" or repair_number(text) is not None


class LabTestFinder:
    """Finds test names by phrase, by whole-label comparison and, last, by bounded edit distance."""

    def __init__(self, nlp: Language) -> None:
        self._matcher = PhraseMatcher(nlp.vocab, attr="NORM")
        self._compact: dict[str, str] = {}
        self._printed: set[str] = set()
        for test in lab_tests():
            self._matcher.add(test.key, [_normed(nlp, s) for s in test.synonyms])
            for synonym in test.synonyms:
                self._compact[compact(synonym)] = test.key
                self._printed.add(_alnum(synonym))
        self._fuzzy_keys = [(k, v) for k, v in self._compact.items() if len(k) >= _FUZZY_MIN_LENGTH]

    def __call__(self, doc: Doc) -> Doc:
        found = []
        for match_id, start, end in self._matcher(doc):
            span = Span(doc, start, end, label=match_id)
            span._.ai_match = "exact" if _alnum(span.text) in self._printed else "folded"
            found.append(span)
        found = filter_spans(found)
        for label in self._line_labels(doc):
            named = self._label_span(label, found)
            if named is not None:
                found = [s for s in found if s.end <= named.start or s.start >= named.end] + [named]
        doc.spans["lab_tests"] = sorted(found, key=lambda s: s.start)
        return doc

    def _line_labels(self, doc: Doc) -> list[Span]:
        labels = []
        offset = 0
        for line in doc.text.split("\n"):
            start, offset = offset, offset + len(line) + 1
            span = doc.char_span(start, start + len(line), alignment_mode="expand")
            if span is None or not line.strip():
                continue
            depth, end = 0, None
            for token in span:
                if token.text in "([":
                    depth += 1
                elif token.text in ")]":
                    depth = max(0, depth - 1)
                elif depth == 0 and not token.is_space and _value_like(token.text):
                    end = token.i
                    break
            first = next((t.i for t in span if not t.is_space), None)
            while end is not None and end > 0 and doc[end - 1].is_space:
                end -= 1
            if end is not None and first is not None and end > first:
                labels.append(doc[first:end])
        return labels

    def _label_span(self, label: Span, found: list[Span]) -> Span | None:
        """The test a line's label names: whole label, else fuzzy whole label, else phrase, else fuzzy part."""
        doc = label.doc
        key = self._compact.get(compact(label.text))
        if key is not None:
            span = Span(doc, label.start, label.end, label=key)
            span._.ai_match = "exact" if _alnum(label.text) in self._printed else "folded"
            return span
        whole = self._fuzzy(label)
        if whole is not None:
            return whole
        if any(label.start <= s.start and s.end <= label.end for s in found):
            return None
        for size in range(len(label) - 1, 0, -1):
            for start in range(label.start, label.end - size + 1):
                part = self._fuzzy(doc[start:start + size])
                if part is not None:
                    return part
        return None

    def _fuzzy(self, words: Span) -> Span | None:
        text = compact(words.text)
        if len(text) < _FUZZY_MIN_LENGTH:
            return None
        allowed = 1 if len(text) <= 8 else 2
        distance, key = min(((edit_distance(text, k, allowed), v) for k, v in self._fuzzy_keys), default=(9, ""))
        if distance > allowed:
            return None
        span = Span(words.doc, words.start, words.end, label=key)
        span._.ai_match = "fuzzy"
        return span


@Language.factory("ai_lab_tests")
def make_lab_tests(nlp: Language, name: str) -> LabTestFinder:
    return LabTestFinder(nlp)


class ConditionFinder:
    """Finds condition mentions (outside test names) and judges each one's assertion."""

    def __init__(self, nlp: Language) -> None:
        self._matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for concept in conditions():
            self._matcher.add(concept.key, [nlp.make_doc(s) for s in concept.synonyms])
        self._context = ContextRules(nlp.make_doc, nlp.vocab)

    def __call__(self, doc: Doc) -> Doc:
        tests = list(doc.spans.get("lab_tests", []))
        spans = [Span(doc, start, end, label=match_id) for match_id, start, end in self._matcher(doc)]
        spans = [s for s in filter_spans(spans) if not any(s.start < t.end and t.start < s.end for t in tests)]
        for span, assertion in zip(spans, self._context.assert_all(doc, spans), strict=True):
            span._.ai_assertion = assertion
        doc.spans["conditions"] = spans
        return doc


@Language.factory("ai_conditions")
def make_conditions(nlp: Language, name: str) -> ConditionFinder:
    return ConditionFinder(nlp)


@cache
def report_language() -> Language:
    """The pipeline, built once per process (about 0.2 s)."""
    nlp = spacy.blank("en")
    infixes = [*(nlp.Defaults.infixes or ()), r"[()\[\]/:;=,]"]
    tokenizer = cast(Tokenizer, nlp.tokenizer)
    tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    nlp.add_pipe("ai_ocr_norm")
    nlp.add_pipe("ai_report_sentences")
    nlp.add_pipe("ai_lab_tests")
    nlp.add_pipe("ai_conditions")
    return nlp
