"""PKCE for every client, S256 only (SMART App Launch 2: "code_challenge_method=S256 ... REQUIRED").

At /authorize a missing or blank `code_challenge`, a missing method or `plain` is refused with 400
(no redirect); at /token a missing, malformed or wrong `code_verifier` (including one equal to the
challenge) is `invalid_request` / `invalid_grant`, 400.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import (
    CODE_CHALLENGE_PATTERN,
    CODE_VERIFIER_PATTERN,
    compare_s256_code_challenge,
)

__all__ = ["SmartPkce", "RejectedRequest"]


class RejectedRequest(InvalidRequestError):  # type: ignore[misc]
    """An authorization request refused with 400 at the server, never redirected to the client: a
    request without proper PKCE, or for another FHIR server (`aud`)."""


class SmartPkce(CodeChallenge):  # type: ignore[misc]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        payload = grant.request.payload
        challenge = payload.data.get("code_challenge", "")
        method = payload.data.get("code_challenge_method", "")
        if len(payload.datalist.get("code_challenge", [])) > 1 or \
                len(payload.datalist.get("code_challenge_method", [])) > 1:
            raise RejectedRequest("Repeated PKCE parameters.")
        if not challenge.strip():
            raise RejectedRequest("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if method != "S256":
            raise RejectedRequest("code_challenge_method must be S256 (plain is not accepted).")
        if not CODE_CHALLENGE_PATTERN.match(challenge):
            raise RejectedRequest("code_challenge is not a base64url SHA-256 value.")

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        request = grant.request
        verifier = request.form.get("code_verifier", "")
        challenge = self.get_authorization_code_challenge(request.authorization_code)
        if not verifier.strip():
            raise InvalidRequestError("Missing code_verifier.")
        if not CODE_VERIFIER_PATTERN.match(verifier):
            raise InvalidRequestError("Invalid code_verifier.")
        if verifier == challenge or not compare_s256_code_challenge(verifier, challenge):
            raise InvalidGrantError("code_verifier does not match the code_challenge.")
