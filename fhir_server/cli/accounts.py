"""`fhir-server users …` and `fhir-server clients …`: accounts and OAuth clients of the SMART server.
Integrators script against these names: keep them stable.

    fhir-server users add --username U --role doctor|trainee|admin|patient|analyst --password-stdin
                          [--fhir-user Practitioner/ID|Patient/ID] [--supervisor Practitioner/ID]
                          [--tenure-end YYYY-MM-DD]
    fhir-server users list [--json] | disable --username U | enable --username U | enroll-totp --username U
    fhir-server users reset-password --username U | set-tenure --username U --tenure-end YYYY-MM-DD
    fhir-server clients add --client-id ID --scopes "..." [--secret-stdin | --jwks FILE | --jwks-uri URL]
                            [--redirect-uri URI ...] [--public] [--name NAME]
    fhir-server clients list [--json] | remove --client-id ID

Changes that take access away (disable, tenure, reset, remove) revoke the tokens already issued, in
every running server process (through the database, and at once through Redis when configured).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from fhir_server.cli.common import fail, load_settings, prepare
from fhir_server.config import Settings

__all__ = ["users", "clients"]

T = TypeVar("T")
ROLES = ["doctor", "trainee", "admin", "patient", "analyst"]


@dataclass
class _Admin:
    accounts: Any
    clients: Any
    base_url: str


@asynccontextmanager
async def admin_services(settings: Settings) -> AsyncIterator[_Admin]:
    """The account and client services on the configured database (no HTTP server needed)."""
    from fhir_server.auth.accounts import AccountService
    from fhir_server.auth.clients import ClientService
    from fhir_server.auth.revocation import RevocationList
    from fhir_server.auth.revoker import GrantRevoker
    from fhir_server.auth.settings import AuthSettings
    from fhir_server.db.engine import create_engine
    from fhir_server.storage.driver import create_pg_pool
    from fhir_server.storage.keys import open_keyring
    from fhir_server.storage.repository import ResourceStore

    auth_settings = AuthSettings.from_settings(settings)
    engine = create_engine(settings.sqlalchemy_url, pool_size=2)
    pool = redis = None
    try:
        keyring = await open_keyring(settings, engine)
        if not settings.is_sqlite:
            pool = await create_pg_pool(settings.driver_dsn, size=2)
        if settings.redis_url:
            import redis.asyncio as redis_asyncio

            redis = redis_asyncio.from_url(settings.redis_url)
        store = ResourceStore(engine, keyring, pg_pool=pool)
        revoker = GrantRevoker(store, RevocationList(store, redis=redis),
                               max_access_lifetime=auth_settings.access_token_lifetime)
        accounts = AccountService(store, keyring, revoker, auth_settings)
        yield _Admin(accounts, ClientService(store, revoker, accounts.passwords), settings.base_url)
    finally:
        if redis is not None:
            await redis.aclose()
        if pool is not None:
            await pool.close()
        await engine.dispose()


def _run(work: Callable[[_Admin], Awaitable[T]]) -> T:
    from fhir_server.errors import FhirError

    settings = load_settings()
    asyncio.run(prepare(settings))

    async def run() -> T:
        async with admin_services(settings) as admin:
            return await work(admin)

    try:
        return asyncio.run(run())
    except FhirError as exc:
        raise click.ClickException(exc.diagnostics) from exc


def _stdin_secret(what: str) -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        fail(f"no {what} on standard input")
    return line


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = {c: max([len(c), *(len(str(r.get(c) if r.get(c) is not None else "-")) for r in rows)]) for c in columns}
    click.echo("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        click.echo("  ".join(str(row.get(c) if row.get(c) is not None else "-").ljust(widths[c])
                             for c in columns).rstrip())


# -- users ------------------------------------------------------------------------------------------

@click.group()
def users() -> None:
    """Accounts of people who log in (doctors, trainees, administrators, patients, analysts)."""


@users.command("add")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--fhir-user", help="The person's FHIR resource: Practitioner/ID or Patient/ID.")
@click.option("--supervisor", help="Trainees: the supervising doctor, Practitioner/ID.")
@click.option("--tenure-end", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Trainees: the last day (UTC) of their access.")
def users_add(username: str, role: str, password_stdin: bool, fhir_user: str | None, supervisor: str | None,
              tenure_end: dt.datetime | None) -> None:
    """Create an account."""
    from fhir_server.auth.accounts import NewAccount

    if password_stdin:
        password = _stdin_secret("password")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    new = NewAccount(username=username, role=role, password=password, fhir_user=fhir_user, supervisor=supervisor,
                     tenure_end=_date(tenure_end))
    account = _run(lambda admin: admin.accounts.create(new))
    click.echo(f"created {account.role} account {account.username} ({account.account_id})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array) instead of a table.")
def users_list(as_json: bool) -> None:
    """List the accounts."""
    accounts = _run(lambda admin: admin.accounts.list_accounts())
    rows = [a.public() for a in accounts]
    for row in rows:
        end = row.get("tenure_end_at")
        row["tenure_end"] = (dt.datetime.fromtimestamp(end, dt.UTC) - dt.timedelta(days=1)).date().isoformat() \
            if isinstance(end, int) else None
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _table(rows, ["username", "role", "fhir_user", "supervisor", "tenure_end", "disabled", "totp_enrolled"])


@users.command("disable")
@click.option("--username", required=True)
def users_disable(username: str) -> None:
    """Disable an account and revoke its tokens."""
    _run(lambda admin: admin.accounts.set_disabled(username, True))
    click.echo(f"disabled {username}; its tokens are revoked")


@users.command("enable")
@click.option("--username", required=True)
def users_enable(username: str) -> None:
    """Enable a disabled account again."""
    _run(lambda admin: admin.accounts.set_disabled(username, False))
    click.echo(f"enabled {username}")


@users.command("enroll-totp")
@click.option("--username", required=True)
def users_enroll_totp(username: str) -> None:
    """Give an account a new TOTP secret; print it once (and the otpauth:// URI for a QR code)."""
    enrolment = _run(lambda admin: admin.accounts.enroll_totp(username))
    click.echo(f"secret: {enrolment.secret}")
    click.echo(f"uri: {enrolment.provisioning_uri}")


@users.command("reset-password")
@click.option("--username", required=True)
def users_reset_password(username: str) -> None:
    """Make a single-use, time-limited link to set a new password."""
    async def work(admin: _Admin) -> tuple[str, int, str]:
        token, expires_at = await admin.accounts.create_reset_token(username)
        return token, expires_at, admin.base_url

    token, expires_at, base_url = _run(work)
    origin = base_url.rsplit("/fhir", 1)[0] if base_url else "<server>"
    expires = dt.datetime.fromtimestamp(expires_at, dt.UTC).isoformat(timespec="minutes")
    click.echo(f"{origin}/auth/password-reset?token={token}")
    click.echo(f"valid once, until {expires}", err=True)


@users.command("set-tenure")
@click.option("--username", required=True)
@click.option("--tenure-end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
def users_set_tenure(username: str, tenure_end: dt.datetime) -> None:
    """Change a trainee's tenure end (their current tokens are revoked)."""
    day = tenure_end.date()
    _run(lambda admin: admin.accounts.set_tenure_end(username, day))
    click.echo(f"{username}: access through {day.isoformat()} (UTC)")


# -- clients ----------------------------------------------------------------------------------------

@click.group()
def clients() -> None:
    """OAuth clients: SMART apps and backend services."""


@clients.command("add")
@click.option("--client-id", required=True)
@click.option("--scopes", required=True, help='The most the client may be granted, e.g. "launch openid patient/*.rs".')
@click.option("--secret-stdin", is_flag=True, help="Confidential app: read its secret from standard input.")
@click.option("--jwks", "jwks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Backend service / asymmetric app: a file with its public JWKS.")
@click.option("--jwks-uri", help="Backend service / asymmetric app: the URL of its public JWKS.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeat for each allowed redirect URI.")
@click.option("--public", is_flag=True, help="Public app (no secret; PKCE only).")
@click.option("--name", help="What the consent page calls the app.")
def clients_add(client_id: str, scopes: str, secret_stdin: bool, jwks_file: Path | None, jwks_uri: str | None,
                redirect_uris: tuple[str, ...], public: bool, name: str | None) -> None:
    """Register a client."""
    from fhir_server.auth.clients import NewClient

    secret = _stdin_secret("secret") if secret_stdin else None
    jwks = jwks_file.read_text() if jwks_file is not None else None
    new = NewClient(client_id=client_id, scopes=scopes, redirect_uris=redirect_uris, public=public, secret=secret,
                    jwks=jwks, jwks_uri=jwks_uri, name=name)
    record = _run(lambda admin: admin.clients.register(new))
    click.echo(f"registered {record.client_id} ({record.auth_method}; grants: {', '.join(record.grant_types)})")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array) instead of a table.")
def clients_list(as_json: bool) -> None:
    """List the registered clients."""
    rows = [c.public() for c in _run(lambda admin: admin.clients.list_clients())]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        row["grant_types"] = ",".join(row["grant_types"])
    _table(rows, ["client_id", "auth_method", "grant_types", "scopes"])


@clients.command("remove")
@click.option("--client-id", required=True)
def clients_remove(client_id: str) -> None:
    """Unregister a client and revoke its tokens."""
    _run(lambda admin: admin.clients.remove(client_id))
    click.echo(f"removed {client_id}; its tokens are revoked")
