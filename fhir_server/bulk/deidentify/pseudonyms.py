"""Keyed pseudonyms: a resource id replaced by HMAC-SHA256(server secret, "Type/id").

The same resource gets the same pseudonym in every file and every export made with the same
secret, so references still join (`Observation.subject` -> `Patient/<pseudonym>`), while without
the secret the original ids cannot be recovered or confirmed. Pseudonyms are 26 characters of
lower-case base32 (130 bits), valid FHIR ids. The per-patient date shift is derived the same way.

The secret (32 random bytes) lives in a file beside the keyring, created on first use (mode 0600);
deleting it makes later extracts unlinkable to earlier ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["Pseudonymizer", "load_or_create_secret"]


def load_or_create_secret(path: Path) -> bytes:
    """The secret in `path`, created with 32 random bytes if the file does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = base64.b64encode(secrets.token_bytes(32))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return base64.b64decode(path.read_bytes().strip())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    return base64.b64decode(data.strip())


class Pseudonymizer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the pseudonym secret must be at least 16 bytes")
        self._secret = secret
        self._cache: dict[tuple[str, str], str] = {}

    def _digest(self, text: str) -> bytes:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).digest()

    def pseudonym(self, res_type: str, res_id: str) -> str:
        key = (res_type, res_id)
        found = self._cache.get(key)
        if found is None:
            found = base64.b32encode(self._digest(f"{res_type}/{res_id}")).decode()[:26].lower()
            if len(self._cache) < 20_000:  # the recent patients and practitioners, not every id
                self._cache[key] = found
        return found

    def day_offset(self, patient_id: str, *, max_days: int = 365) -> int:
        """The patient's date shift in days: non-zero, within +/- `max_days`."""
        value = int.from_bytes(self._digest(f"date-shift/{patient_id}")[:8], "big")
        magnitude = value % max_days + 1
        return magnitude if value >> 63 else -magnitude
