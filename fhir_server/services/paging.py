"""Opaque, stateless page cursors: the position is encoded in the link itself."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from fhir_server.errors import BadRequest

__all__ = ["encode_cursor", "decode_cursor"]


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(token: str) -> Any:
    try:
        return orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"'{token}' is not a page cursor this server issued") from exc
