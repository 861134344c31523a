"""The scanned documents a resource carries, and their bytes.

A DocumentReference carries its document in `content[n].attachment`, a DiagnosticReport its printed
report in `presentedForm[n]`. An attachment is a scanned document when its `contentType` is a PNG,
JPEG, TIFF or PDF, or, without a `contentType`, when its inline bytes start like one. Its bytes are
inline (`data`, base64) or in a Binary on this server (`url` = `Binary/[id]`, read through the
service layer, so the pipeline's principal must be allowed to read it). Other URLs are never fetched:
the pipeline makes no outbound requests on behalf of whoever wrote the resource.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from ai_pipeline.document import OcrSettings
from ai_pipeline.errors import DocumentTooLarge, EmptyDocument, UnreadableDocument
from ai_pipeline.ocr import media_type
from fhir_server.context import RequestContext
from fhir_server.services import ResourceService
from resources import fhir_json

__all__ = ["SCANNED_TYPES", "Scanned", "scanned_attachments", "attachment_bytes"]

SCANNED_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/tiff", "application/pdf"})
_BINARY = re.compile(r"Binary/([A-Za-z0-9\-.]{1,64})")


@dataclass(frozen=True, slots=True)
class Scanned:
    """One scanned attachment and where it sits in its resource (e.g. `content[0].attachment`)."""

    path: str
    attachment: dict[str, Any]


def _is_scanned(attachment: Any) -> bool:
    if not isinstance(attachment, dict):
        return False
    content_type = str(attachment.get("contentType") or "").split(";", 1)[0].strip().lower()
    if content_type:
        return content_type in SCANNED_TYPES
    data = attachment.get("data")
    if isinstance(data, str) and data:
        try:
            head = base64.b64decode(data[:1400] + "=" * (-len(data[:1400]) % 4), validate=False)
        except (binascii.Error, ValueError):
            return False
        return media_type(head) is not None
    return False


def scanned_attachments(resource: dict[str, Any]) -> list[Scanned]:
    """The scanned-document attachments of a DocumentReference or DiagnosticReport, in order."""
    found: list[Scanned] = []
    if resource.get("resourceType") == "DocumentReference":
        for n, content in enumerate(resource.get("content") or []):
            attachment = (content or {}).get("attachment")
            if _is_scanned(attachment):
                found.append(Scanned(f"content[{n}].attachment", attachment))
    elif resource.get("resourceType") == "DiagnosticReport":
        for n, attachment in enumerate(resource.get("presentedForm") or []):
            if _is_scanned(attachment):
                found.append(Scanned(f"presentedForm[{n}]", attachment))
    return found


def _decode(data: Any, settings: OcrSettings, where: str) -> bytes:
    if not isinstance(data, str) or not data:
        raise EmptyDocument(f"{where} has no data")
    if len(data) * 3 // 4 > settings.max_bytes + 3:
        raise DocumentTooLarge(f"{where} is over the limit of {settings.max_bytes} bytes")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnreadableDocument(f"{where} is not valid base64") from exc


async def attachment_bytes(resources: ResourceService, ctx: RequestContext, scanned: Scanned,
                           settings: OcrSettings) -> bytes:
    """The document's bytes; a PipelineError when there are none, they are too many, or not reachable."""
    attachment, where = scanned.attachment, scanned.path
    if attachment.get("data") is not None:
        return _decode(attachment["data"], settings, where)
    url = attachment.get("url")
    if not isinstance(url, str) or not url:
        raise EmptyDocument(f"{where} has neither data nor a url")
    if isinstance(attachment.get("size"), int) and attachment["size"] > settings.max_bytes:
        raise DocumentTooLarge(f"{where} is {attachment['size']} bytes; the limit is {settings.max_bytes}")
    match = _BINARY.fullmatch(url)
    if match is None:
        raise UnreadableDocument(f"{where}: only Binary resources on this server are read (url 'Binary/[id]'), "
                                 f"not '{url[:200]}'")
    binary = fhir_json.loads((await resources.read(ctx, "Binary", match.group(1))).body or b"{}")
    return _decode(binary.get("data"), settings, f"{where} (Binary/{match.group(1)})")
