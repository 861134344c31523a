"""Ids the server makes for the resources (and audit events) it names."""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["new_id"]


def new_id() -> str:
    """A version 7 UUID (RFC 9562): the first 48 bits are the Unix time in milliseconds, the other 74
    random. Ids made one after another sort together, so the index entries of new resources (their
    (type, id) key, the references other resources make to them) go onto the newest pages of each
    index instead of onto random pages of the whole index, which outgrows the database's buffers as
    the database grows."""
    random = int.from_bytes(os.urandom(10), "big")
    value = ((time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (random >> 62 & 0xFFF) << 64
             | 0b10 << 62 | random & 0x3FFF_FFFF_FFFF_FFFF)
    return str(uuid.UUID(int=value))
