"""The parsed form of an HL7 v2 message: separators, segments, fields, repetitions, components.

HL7 v2.5.1 §2.5 (message construction rules) and §2.6 (delimiters): a message is segments, a segment
is fields separated by MSH-1, a field is repetitions (MSH-2.2), a repetition is components (MSH-2.1),
a component is subcomponents (MSH-2.4). Everything here is 1-based, as the standard counts
(`PID-3.4.2` is `segment.value(3, 4, 2)`), and text is already unescaped (`hl7_gateway.escape`).
The HL7 null `""` ("delete this value", §2.5.3) reads as empty through `value()`; `is_null` tells it
apart from a field that was simply not sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hl7_gateway.errors import ErrorLocation
from hl7_gateway.escape import escape

__all__ = ["Separators", "Repetition", "Segment", "Header", "Message", "EMPTY", "HL7_NULL"]

HL7_NULL = '""'


@dataclass(frozen=True, slots=True)
class Separators:
    """MSH-1 and MSH-2: field, component, repetition, escape, subcomponent and (v2.7+) truncation."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as the sender wrote it."""
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation

    def escape_text(self, text: str) -> str:
        """Escape `text` for writing into a field of a message that uses these separators."""
        return escape(text, field=self.field, component=self.component, repetition=self.repetition,
                      escape_char=self.escape, subcomponent=self.subcomponent)


@dataclass(frozen=True, slots=True)
class Repetition:
    """One occurrence of a field: its components, each a tuple of subcomponents (unescaped text)."""

    components: tuple[tuple[str, ...], ...] = ()

    def component(self, index: int, subcomponent: int = 1) -> str:
        """Component `index` (1-based), subcomponent `subcomponent`; '' when absent or HL7 null."""
        if index < 1 or index > len(self.components):
            return ""
        subs = self.components[index - 1]
        if subcomponent < 1 or subcomponent > len(subs):
            return ""
        text = subs[subcomponent - 1]
        return "" if text == HL7_NULL else text

    def subcomponents(self, index: int) -> tuple[str, ...]:
        if index < 1 or index > len(self.components):
            return ()
        return self.components[index - 1]

    @property
    def text(self) -> str:
        return self.component(1)

    @property
    def is_empty(self) -> bool:
        return all(not sub or sub == HL7_NULL for subs in self.components for sub in subs)

    @property
    def is_null(self) -> bool:
        """The field was sent as the HL7 null `""`: the receiver should delete its value."""
        return self.components == ((HL7_NULL,),)


EMPTY = Repetition()


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its ID, its fields (index = field number) and its position among same-ID segments."""

    name: str
    fields: tuple[tuple[Repetition, ...], ...]
    raw_fields: tuple[str, ...] = ()
    sequence: int = 1
    index: int = 0

    def repetitions(self, number: int) -> tuple[Repetition, ...]:
        """All non-empty repetitions of field `number`."""
        if number < 1 or number >= len(self.fields):
            return ()
        return tuple(rep for rep in self.fields[number] if not rep.is_empty)

    def field(self, number: int) -> Repetition:
        """The first repetition of field `number` (EMPTY when the field is absent)."""
        if number < 1 or number >= len(self.fields) or not self.fields[number]:
            return EMPTY
        return self.fields[number][0]

    def value(self, number: int, component: int = 1, subcomponent: int = 1) -> str:
        """Unescaped text of `SEG-number.component.subcomponent` in the first repetition."""
        return self.field(number).component(component, subcomponent).strip()

    def raw(self, number: int) -> str:
        """Field `number` exactly as sent (escaped), e.g. to echo MSH-3 into an acknowledgment."""
        return self.raw_fields[number] if 0 <= number < len(self.raw_fields) else ""

    def is_valued(self, number: int) -> bool:
        return bool(self.repetitions(number))

    def location(self, field: int | None = None, component: int | None = None,
                 repetition: int | None = None) -> ErrorLocation:
        return ErrorLocation(self.name, self.sequence, field,
                             repetition if repetition is not None else (1 if field is not None else None),
                             component)


@dataclass(frozen=True, slots=True)
class Header:
    """The MSH fields the gateway acts on, read before (and independent of) full parsing."""

    separators: Separators = field(default_factory=Separators)
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    timestamp: str = ""
    message_type: str = ""
    trigger_event: str = ""
    structure: str = ""
    control_id: str = ""
    processing_id: str = ""
    version: str = ""
    accept_ack_type: str = ""
    application_ack_type: str = ""
    charset: str = ""

    @property
    def sender(self) -> str:
        """Sending application and facility (MSH-3, MSH-4) as one key, e.g. 'GHH LAB|ELAB-3'."""
        return f"{self.sending_application}|{self.sending_facility}"

    @property
    def enhanced_mode(self) -> bool:
        """HL7 v2.5.1 §2.9.1: MSH-15 or MSH-16 valued selects enhanced acknowledgment mode."""
        return bool(self.accept_ack_type or self.application_ack_type)

    @property
    def kind(self) -> str:
        """'ORU^R01' style message type and trigger event."""
        return f"{self.message_type}^{self.trigger_event}" if self.trigger_event else self.message_type


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed message: the header, all segments in order, the codec it was read with and warnings."""

    header: Header
    segments: tuple[Segment, ...]
    codec: str = "ascii"
    raw: bytes = b""
    warnings: tuple[str, ...] = ()

    @property
    def separators(self) -> Separators:
        return self.header.separators

    def segment(self, name: str) -> Segment | None:
        """The first segment with this ID."""
        return next((seg for seg in self.segments if seg.name == name), None)

    def all(self, name: str) -> tuple[Segment, ...]:
        return tuple(seg for seg in self.segments if seg.name == name)
