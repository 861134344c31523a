"""Lab results and condition mentions from report text: spaCy rule components, no model download.

    from ai_pipeline.nlp import LabExtractor
    found = LabExtractor().extract(text_or_document)
"""

from ai_pipeline.nlp.context import Assertion
from ai_pipeline.nlp.extraction import ConditionMention, Flag, LabExtraction, LabExtractor, LabResult
from ai_pipeline.nlp.lexicon import ConditionConcept, LabCode, LabTest, conditions, lab_tests

__all__ = [
    "LabExtractor", "LabExtraction", "LabResult", "ConditionMention", "Flag", "Assertion", "LabTest",
    "LabCode", "ConditionConcept", "lab_tests", "conditions",
]
