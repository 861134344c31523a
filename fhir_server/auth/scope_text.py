"""Plain-language descriptions of scopes for the consent page."""

from __future__ import annotations

from fhir_server.auth.scopes import ClinicalScope, InvalidScope, parse_scope

__all__ = ["describe"]

_CONTEXT = {
    "openid": "Confirm who you are",
    "fhirUser": "Know which practitioner or patient record is yours",
    "profile": "See your user name",
    "launch": "Open with the patient and encounter the EHR has in context",
    "launch/patient": "Know which patient is selected",
    "launch/encounter": "Know which encounter is selected",
    "offline_access": "Keep access after you close the app, until you revoke it",
    "online_access": "Keep access while you are using the app",
}
_VERBS = (("c", "create"), ("r", "read"), ("u", "update"), ("d", "delete"), ("s", "search"))
_WHOSE = {"patient": "of the selected patient", "user": "you may see", "system": "on the server"}


def describe(text: str) -> str:
    try:
        scope = parse_scope(text)
    except InvalidScope:
        return text
    if not isinstance(scope, ClinicalScope):
        return _CONTEXT.get(scope, scope)
    verbs = [verb for letter, verb in _VERBS if letter in scope.permissions]
    what = "all data" if scope.res_type == "*" else f"{scope.res_type} resources"
    action = ", ".join(verbs[:-1]) + (" and " if len(verbs) > 1 else "") + verbs[-1]
    limit = "".join(f", only where {p} is {v}" for p, v in scope.query)
    return f"{action.capitalize()} {what} {_WHOSE[scope.level]}{limit}"
