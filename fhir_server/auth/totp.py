"""Time-based one-time passwords (RFC 6238) with pyotp: enrolment and verification without replay.

A code is accepted for the current 30-second step and one step either side (clock drift); the step
it matched is returned so the caller stores it, and a later login must match a later step.
"""

from __future__ import annotations

import time

import pyotp

__all__ = ["new_secret", "provisioning_uri", "matching_step", "current_code"]

INTERVAL = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, username: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret, interval=INTERVAL).provisioning_uri(name=username, issuer_name=issuer)


def current_code(secret: str, at: float | None = None) -> str:
    return pyotp.TOTP(secret, interval=INTERVAL).at(int(at if at is not None else time.time()))


def matching_step(secret: str, code: str, *, last_step: int | None, at: float | None = None) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_step`; else None."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=INTERVAL)
    now = int(at if at is not None else time.time())
    step_now = now // INTERVAL
    for step in range(step_now - DRIFT_STEPS, step_now + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.at(step * INTERVAL), code):
            return step
    return None
