"""SMART on FHIR authorization: this server as its own OAuth 2.0 authorization server (SMART App Launch
2.x, SMART Backend Services) on authlib, hospital roles, the access policy, and audit records.

    scopes.py      SMART scope grammar (v1, v2, granular) and matcher      roles.py      what each role may hold
    policy.py      allow / deny / filter for every interaction             compartment.py  Patient compartment
    tokens.py      access tokens (RS256 JWTs) and authenticate(request)    audit.py      BALP AuditEvents
    accounts.py    accounts, Argon2, TOTP, lockout, password reset          clients.py    registered clients
    launch.py      EHR launch contexts                                     linkage.py    trainees' patients
    authorization.py  the browser flow (login, picker, consent)            discovery.py  .well-known documents
    oauth/         authlib server, grants, PKCE, OpenID, private_key_jwt, introspection, revocation
    components.py  builds all of it                                        repositories/ the SQL
"""

from fhir_server.auth import totp
from fhir_server.auth.accounts import AccountService, LoginOutcome, NewAccount, tenure_end_from_date
from fhir_server.auth.audit import (
    Outcome,
    denial_event,
    login_event,
    rest_event,
    revocation_event,
    token_event,
)
from fhir_server.auth.clients import ClientService, NewClient
from fhir_server.auth.components import AuthComponents, discard_audit
from fhir_server.auth.discovery import openid_configuration, security_block, smart_configuration
from fhir_server.auth.linkage import TraineeLinks, search_linked_patients
from fhir_server.auth.oauth.requests import Endpoints
from fhir_server.auth.policy import AccessPolicy, SearchFilter, check_interaction
from fhir_server.auth.ports import AuditSink, Choice, EncounterPicker, PatientPicker, SupervisedPatients
from fhir_server.auth.roles import Role, grantable_scopes
from fhir_server.auth.scopes import PERMISSION_OF, ScopeSet, parse_scope, scope_set
from fhir_server.auth.settings import AuthSettings
from fhir_server.auth.tokens import AccessTokens, BearerAuthenticator, TokenClaims

__all__ = [
    "AuthComponents", "AuthSettings", "discard_audit", "Endpoints",
    "AccessPolicy", "SearchFilter", "check_interaction", "PERMISSION_OF", "ScopeSet", "parse_scope", "scope_set",
    "Role", "grantable_scopes",
    "AccessTokens", "BearerAuthenticator", "TokenClaims",
    "AccountService", "NewAccount", "LoginOutcome", "tenure_end_from_date", "ClientService", "NewClient",
    "TraineeLinks", "search_linked_patients",
    "Outcome", "rest_event", "denial_event", "login_event", "token_event", "revocation_event",
    "smart_configuration", "openid_configuration", "security_block",
    "totp", "AuditSink", "Choice", "PatientPicker", "EncounterPicker", "SupervisedPatients",
]
