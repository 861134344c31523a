"""authlib's view of an HTTP request, built from what the HTTP layer read (framework-free), and the
bridge that lets authlib's synchronous callbacks reach the async repositories.

authlib runs in a worker thread (`anyio.to_thread.run_sync`); its callbacks call `Bridge.run`, which
runs a coroutine on the event loop and waits for it (`anyio.from_thread.run`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.from_thread
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request

__all__ = ["SmartRequest", "Decision", "Bridge", "current_request", "Endpoints"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The public URLs of one request's server: FHIR base (the `aud` and `iss`) and the OAuth endpoints."""

    fhir_base: str

    @property
    def origin(self) -> str:
        return self.fhir_base.rsplit("/fhir", 1)[0] if self.fhir_base.endswith("/fhir") else self.fhir_base

    @property
    def issuer(self) -> str:
        return self.fhir_base

    def url(self, path: str) -> str:
        return f"{self.origin}/auth/{path}"

    @property
    def token(self) -> str:
        return self.url("token")


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._data: dict[str, str] = {}
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._data.setdefault(key, value)
            self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


@dataclass(frozen=True, slots=True)
class Decision:
    """What the user approved on the consent page (the code is issued for exactly this)."""

    account: Any
    scope: str
    auth_time: int
    patient: str | None = None
    encounter: str | None = None
    need_patient_banner: bool = False


class SmartRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request over parameters already read: `query` (authorize GET) or `form` (POST bodies)."""

    def __init__(self, method: str, endpoints: Endpoints, path: str, headers: Mapping[str, str], *,
                 query: Sequence[tuple[str, str]] = (), form: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(method, endpoints.url(path), headers=headers)
        self.endpoints = endpoints
        self._args = dict(reversed(list(query)))
        self._form = dict(reversed(list(form)))
        self.payload = _Payload([*query, *form])
        self.decision: Decision | None = None
        # set by the token endpoint for the audit record: who got what
        self.issued: dict[str, Any] = {}
        self.assertion_header: dict[str, Any] = {}

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


# the request being handled in this thread (for what authlib does not pass along, e.g. the audience)
current_request: ContextVar[SmartRequest | None] = ContextVar("current_oauth_request", default=None)


class Bridge:
    """Run async code from authlib's synchronous callbacks (which run in a worker thread)."""

    def run(self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        return anyio.from_thread.run(function, *args)
