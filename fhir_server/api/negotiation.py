"""Content negotiation and conditional headers: `_format`/`Accept`, `Content-Type`, `_pretty`,
`Prefer`, `If-Match`, `If-None-Match`, `If-Modified-Since` (https://hl7.org/fhir/R4/http.html).

The server speaks FHIR JSON only; XML asked for is refused with 406 and said so plainly.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from starlette.requests import Request

from fhir_server.errors import BadRequest, NotAcceptable, PayloadTooLarge, UnsupportedMediaType

__all__ = [
    "FHIR_JSON", "Negotiated", "negotiate", "read_body", "parse_etag", "if_modified_since", "Prefer", "parse_prefer",
]

FHIR_JSON = "application/fhir+json"
JSON_TYPES = {"application/fhir+json": FHIR_JSON, "application/json": "application/json",
              "json": FHIR_JSON, "application/json+fhir": FHIR_JSON, "text/json": "application/json"}
XML_TYPES = {"application/fhir+xml", "application/xml", "xml", "text/xml", "application/xml+fhir"}
WILDCARDS = {"*/*", "application/*", "text/html", "text/*", "html"}
XML_REFUSAL = "this server serves FHIR JSON only: ask for application/fhir+json (XML is not supported)"
SUPPORTED_FHIR_VERSIONS = {"4.0", "4.0.1"}
BODY_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}


@dataclass(frozen=True, slots=True)
class Negotiated:
    media_type: str
    pretty: bool

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"


def _media_ranges(header: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params = {}
        for piece in pieces[1:]:
            if "=" in piece:
                key, _, value = piece.partition("=")
                params[key.strip().lower()] = value.strip().strip('"')
        ranges.append((pieces[0].lower(), params))
    return ranges


def negotiate(request: Request) -> Negotiated:
    query = request.query_params
    pretty = query.get("_pretty", "false").lower() == "true"
    fmt = query.get("_format")
    if fmt:
        fmt = fmt.split(";", 1)[0].strip().lower()
        if fmt in JSON_TYPES:
            return Negotiated(JSON_TYPES[fmt], pretty)
        if fmt in XML_TYPES:
            raise NotAcceptable(XML_REFUSAL)
        raise NotAcceptable(f"_format '{fmt}' is not supported; this server serves application/fhir+json")
    accept = request.headers.get("accept")
    if not accept:
        return Negotiated(FHIR_JSON, pretty)
    saw_xml = False
    for media, params in _media_ranges(accept):
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        version = params.get("fhirversion")
        if media in JSON_TYPES:
            if version and version not in SUPPORTED_FHIR_VERSIONS:
                raise NotAcceptable(f"this server serves FHIR 4.0 (R4), not fhirVersion={version}")
            return Negotiated(JSON_TYPES[media], pretty)
        if media in WILDCARDS:
            return Negotiated(FHIR_JSON, pretty)
        if media in XML_TYPES:
            saw_xml = True
    if saw_xml:
        raise NotAcceptable(XML_REFUSAL)
    raise NotAcceptable(f"none of the media types in Accept ({accept}) can be served; use application/fhir+json")


async def read_body(request: Request, limit: int, *, allowed: frozenset[str] | set[str] = BODY_TYPES) -> bytes:
    """The request body, refusing unsupported media types (415) and bodies over `limit` bytes (413)."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media not in allowed:
        if media in XML_TYPES:
            raise UnsupportedMediaType(f"'{media}' is not supported: this server accepts FHIR JSON only")
        raise UnsupportedMediaType(f"'{media}' is not supported here; send {' or '.join(sorted(allowed))}")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the body is {int(declared):,} bytes, over the limit of {limit:,}")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise BadRequest("the request has no body; a FHIR resource was expected", code="structure")
    return body


def parse_etag(value: str | None, header: str = "If-Match") -> int | None:
    """`W/"3"` or `"3"` (or a bare 3) as version 3; None when the header is absent."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise BadRequest(f'{header} must name a version like W/"3", got {value}')
    return int(text)


def if_modified_since(value: str | None) -> int | None:
    """The If-Modified-Since HTTP date in epoch seconds; None when absent or unparseable (ignored, per RFC 9110)."""
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Prefer:
    return_: str = "representation"
    handling: str = "strict"
    respond_async: bool = False


def parse_prefer(header: str | None) -> Prefer:
    if not header:
        return Prefer()
    values: dict[str, str] = {}
    flags: set[str] = set()
    for part in header.split(","):
        for token in part.split(";"):
            token = token.strip()
            if "=" in token:
                key, _, value = token.partition("=")
                values[key.strip().lower()] = value.strip().strip('"')
            elif token:
                flags.add(token.lower())
    ret = values.get("return", "representation")
    if ret.lower() == "operationoutcome":
        ret = "OperationOutcome"
    elif ret not in ("minimal", "representation"):
        ret = "representation"
    handling = values.get("handling", "strict").lower()
    return Prefer(ret, "lenient" if handling == "lenient" else "strict", "respond-async" in flags)
