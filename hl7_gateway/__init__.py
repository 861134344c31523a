"""The HL7 v2 gateway: labs send v2 over MLLP; results and orders become FHIR transaction Bundles.

    from hl7_gateway import Gateway, MLLPServer

    gateway = Gateway(inbox=inbox, file_bundle=file_bundle)          # inbox: hl7_gateway.Inbox
    async with MLLPServer(gateway.handle, port=2575, oversize_reply=gateway.oversize_reply) as server:
        await server.serve_forever()

Modules, one job each: `parse` (ER7 via the `hl7` package, separators, escapes, charsets),
`batch` (FHS/BHS envelopes), `ack` (AA/AE/AR, CA/CE/CR), `mllp` (framing, server, client),
`mapping` (v2 → FHIR), `inbox` (the storage contract), `gateway` (the composition), `errors`,
`retry` (failed messages tried again with backoff); inside the server: `db_inbox` (the inbox over the
database), `filing` (a Bundle and its inbox outcome in one transaction), `runner`, `cli`.
"""

from hl7_gateway.ack import batch_ack, build_ack
from hl7_gateway.batch import Frame, split_frame
from hl7_gateway.errors import (
    TABLE_0357,
    ApplicationError,
    BatchError,
    ContentError,
    EncodingCharactersError,
    ErrorLocation,
    HL7Error,
    MappingError,
    ParseError,
    UnsupportedMessage,
)
from hl7_gateway.gateway import Delivery, FileBundle, Gateway
from hl7_gateway.inbox import ErrorRecord, InboundMessage, Inbox, InboxEntry, InboxStatus, Outcome
from hl7_gateway.mapping import MappingOptions, MappingResult, map_message
from hl7_gateway.message import Header, Message, Repetition, Segment, Separators
from hl7_gateway.mllp import FrameDecoder, FrameTooLarge, FramingError, MLLPClient, MLLPServer, frame
from hl7_gateway.parse import SUPPORTED_VERSIONS, parse_message, peek_header

__all__ = [
    "Gateway", "Delivery", "FileBundle",
    "Inbox", "InboxEntry", "InboxStatus", "InboundMessage", "Outcome", "ErrorRecord",
    "parse_message", "peek_header", "split_frame", "Frame", "SUPPORTED_VERSIONS",
    "Message", "Header", "Segment", "Repetition", "Separators",
    "build_ack", "batch_ack",
    "MLLPServer", "MLLPClient", "FrameDecoder", "FrameTooLarge", "FramingError", "frame",
    "map_message", "MappingOptions", "MappingResult",
    "HL7Error", "ParseError", "EncodingCharactersError", "BatchError", "UnsupportedMessage", "ContentError",
    "MappingError", "ApplicationError", "ErrorLocation", "TABLE_0357",
]
