"""The authorization server's settings: one frozen object built at start from `Settings` and passed in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["AuthSettings"]

DAY = 86400


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Lifetimes are in seconds. `base_url` is the public URL of /fhir (the tokens' `aud` and the `iss`);
    empty means "taken from each request", which is for development only. OAuth is refused over plain
    HTTP except on loopback addresses (authlib's rule)."""

    base_url: str = ""
    redis_url: str = ""
    access_token_lifetime: int = 3600
    # SMART Backend Services: access tokens live at most five minutes
    backend_token_lifetime: int = 300
    # offline_access: survives the user's session; online_access: a working day
    offline_refresh_lifetime: int = 90 * DAY
    online_refresh_lifetime: int = 12 * 3600
    code_lifetime: int = 120
    launch_lifetime: int = 600
    pending_lifetime: int = 1800
    password_reset_lifetime: int = 3600
    # Argon2id cost of new password and client-secret hashes (OWASP's recommendation by default)
    password_time_cost: int = 2
    password_memory_kib: int = 19456
    max_failed_logins: int = 5
    lockout_seconds: int = 900
    # private_key_jwt assertions may expire at most this far ahead (SMART: five minutes)
    assertion_max_lifetime: int = 300
    clock_leeway: int = 10
    # how often each process reads revocations made elsewhere from the database (Redis makes it immediate)
    revocation_poll_seconds: float = 5.0
    # how long a trainee's supervisor's patient list is reused before it is looked up again
    linkage_cache_seconds: int = 30
    server_name: str = "fhir-server"

    def __post_init__(self) -> None:
        if self.password_time_cost < 1 or self.password_memory_kib < 8:
            raise ValueError("Argon2 needs at least 1 pass and 8 KiB")
        if self.backend_token_lifetime > 300:
            raise ValueError("SMART Backend Services access tokens may live at most 300 seconds")
        if self.code_lifetime > 600:
            raise ValueError("authorization codes may live at most 10 minutes")
        if self.assertion_max_lifetime > 300:
            raise ValueError("client assertions may expire at most 5 minutes ahead")

    @classmethod
    def from_settings(cls, settings: Any) -> AuthSettings:
        """From the server's `Settings`: `base_url`, `redis_url`, `dev_mode` and the `auth_*` fields
        (each optional here, so this works before they are added to `Settings`)."""
        values: dict[str, Any] = {"base_url": settings.base_url, "redis_url": settings.redis_url}
        for name in ("access_token_lifetime", "backend_token_lifetime", "offline_refresh_lifetime",
                     "online_refresh_lifetime", "code_lifetime", "launch_lifetime", "password_reset_lifetime",
                     "max_failed_logins", "lockout_seconds", "password_time_cost", "password_memory_kib",
                     "revocation_poll_seconds", "linkage_cache_seconds"):
            value = getattr(settings, f"auth_{name}", None)
            if value is not None:
                values[name] = value
        return cls(**values)
