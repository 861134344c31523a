"""The OAuth 2.0 server on authlib: the server, its grants and extensions, client assertions, endpoints."""

from fhir_server.auth.oauth.requests import Decision, Endpoints, SmartRequest
from fhir_server.auth.oauth.server import SmartAuthorizationServer, run_in_thread

__all__ = ["SmartAuthorizationServer", "SmartRequest", "Decision", "Endpoints", "run_in_thread"]
