"""ConText-style assertion rules: is a mentioned condition negated, uncertain, or someone else's?

The rules follow ConText (Harkema, Dowling, Thornblade, Chapman: "ConText: an algorithm for
determining negation, experiencer, and temporal status from clinical reports", J Biomed Inform
2009;42:839–851), which extends NegEx (Chapman et al. 2001): trigger phrases open a scope forward
("no evidence of …", "possible …", "mother had …") or backward ("… was ruled out", "sepsis?"); the
scope ends at the sentence end, at a termination term ("but", "however", "which", ";") or after a few
tokens; pseudo-triggers ("no increase", "not only", "gram negative") block a look-alike; and the
longest trigger wins ("cannot rule out" is uncertainty, not negation).

Why our own rules rather than a package: medspacy implements ConText fully but pins spaCy < 3.8 and,
through it, NumPy 1.x on Python 3.11, which would hold the whole server's dependencies back; negspacy
implements NegEx negation only — no uncertainty and no family history — so two of the three
assertions would still be ours. The rules below are a short, readable table run by spaCy's
`PhraseMatcher`, with no model and nothing downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans
from spacy.vocab import Vocab

__all__ = ["Assertion", "ContextRules", "TRIGGERS"]

FORWARD, BACKWARD = "forward", "backward"

# (category, direction, phrases). Categories: negated, uncertain, family, pseudo, terminate.
TRIGGERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("negated", FORWARD, (
        "no", "not", "denies", "denied", "deny", "without", "no evidence of", "no signs of", "no sign of",
        "negative for", "absence of", "absent", "free of", "no history of", "never had", "no features of",
        "no suggestion of", "rules out", "ruled out", "excluded", "no further evidence of", "resolution of",
    )),
    ("negated", BACKWARD, (
        "ruled out", "was ruled out", "has been ruled out", "is ruled out", "excluded", "was excluded",
        "has been excluded", "is excluded", "unlikely", "not seen", "is absent", "was absent", "not present",
        "not detected", "negative",
    )),
    ("uncertain", FORWARD, (
        "possible", "possibly", "probable", "probably", "likely", "suspected", "suspect", "suspicion of",
        "query", "?", "questionable", "may have", "might have", "could be", "may be", "cannot exclude",
        "can't exclude", "cannot rule out", "can not rule out", "rule out", "r/o", "to exclude",
        "concerning for", "suggestive of", "consider", "differential includes", "risk of", "at risk of",
        "not ruled out", "not excluded", "borderline",
    )),
    ("uncertain", BACKWARD, (
        "?", "cannot be excluded", "can not be excluded", "not excluded", "not ruled out", "is possible",
        "is suspected", "suspected", "query", "likely", "is likely", "is probable", "possible",
    )),
    ("family", FORWARD, (
        "family history of", "family history", "fh of", "fh", "fhx", "mother", "father", "mum", "dad",
        "sister", "brother", "sibling", "siblings", "parent", "parents", "grandmother", "grandfather",
        "grandparent", "aunt", "uncle", "cousin", "son", "daughter", "maternal", "paternal",
        "mother's", "father's", "his mother", "her mother", "his father", "her father",
    )),
    ("family", BACKWARD, (
        "in mother", "in father", "in the family", "in family", "runs in the family", "in his mother",
        "in her mother", "in his father", "in her father", "in a sibling", "(family history)",
    )),
    ("pseudo", FORWARD, (
        "no increase", "no change", "not only", "no further", "not necessarily", "gram negative",
        "without difficulty", "no new", "not certain whether", "not cause",
    )),
    ("terminate", FORWARD, (
        "but", "however", "although", "though", "except", "apart from", "aside from", "which", "who",
        "patient", "pt", "he", "she", "presents", "presented", "secondary to", "due to", "because",
        ";", "and patient", "otherwise",
    )),
)

_FORWARD_WINDOW = 8
_BACKWARD_WINDOW = 5


@dataclass(frozen=True, slots=True)
class Assertion:
    """The assertion status of one mention and the trigger phrases that set it."""

    negated: bool = False
    uncertain: bool = False
    family: bool = False
    triggers: tuple[str, ...] = ()


class ContextRules:
    """The trigger table compiled into a PhraseMatcher for one spaCy vocabulary."""

    def __init__(self, make_doc: Callable[[str], Doc], vocab: Vocab) -> None:
        self._matcher = PhraseMatcher(vocab, attr="LOWER")
        for category, direction, phrases in TRIGGERS:
            self._matcher.add(f"{category}|{direction}", [make_doc(p) for p in phrases])

    def _triggers(self, doc: Doc) -> list[Span]:
        spans = [Span(doc, start, end, label=match_id) for match_id, start, end in self._matcher(doc)]
        return [span for span in filter_spans(spans) if not span.label_.startswith("pseudo")]

    def assert_all(self, doc: Doc, mentions: Iterable[Span]) -> list[Assertion]:
        """The assertion of each mention, judged within its sentence."""
        triggers = self._triggers(doc)
        return [self._assert(mention, triggers) for mention in mentions]

    def _assert(self, mention: Span, triggers: list[Span]) -> Assertion:
        sentence = mention.sent
        found: dict[str, bool] = {}
        words: list[str] = []
        before = sorted((t for t in triggers if sentence.start <= t.start and t.end <= mention.start),
                        key=lambda t: -t.end)
        blocked = False
        for trigger in before:
            category, direction = trigger.label_.split("|")
            if category == "terminate":
                blocked = True
                continue
            if blocked or direction != FORWARD or mention.start - trigger.end > _FORWARD_WINDOW:
                continue
            found.setdefault(category, True)
            words.append(trigger.text)
        after = sorted((t for t in triggers if mention.end <= t.start and t.end <= sentence.end),
                       key=lambda t: t.start)
        for trigger in after:
            category, direction = trigger.label_.split("|")
            if category == "terminate":
                break
            if direction != BACKWARD or trigger.start - mention.end > _BACKWARD_WINDOW:
                continue
            found.setdefault(category, True)
            words.append(trigger.text)
        return Assertion(
            negated=found.get("negated", False), uncertain=found.get("uncertain", False),
            family=found.get("family", False), triggers=tuple(words),
        )
