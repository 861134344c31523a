"""Accounts: validation, Argon2 hashes, TOTP, lockout, disabling, password reset (service and pages)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from fhir_server.auth import LoginOutcome, NewAccount, tenure_end_from_date, totp
from fhir_server.auth.repositories import accounts as account_rows
from fhir_server.errors import BadRequest, VersionConflict
from tests.fhir_server.auth.harness import (
    PASSWORD,
    Browser,
    add_app,
    add_user,
    authorize_params,
    hidden,
    pkce,
)


@pytest.mark.parametrize(("fields", "message"), [
    ({"username": "a"}, "username"),
    ({"username": "bad name"}, "username"),
    ({"role": "nurse"}, "role"),
    ({"password": "short"}, "at least"),
    ({"password": "the-user-1"}, "username"),
    ({"role": "patient", "fhir_user": "Practitioner/1"}, "Patient/ID"),
    ({"role": "doctor", "fhir_user": None}, "Practitioner/ID"),
    ({"role": "trainee", "fhir_user": "Practitioner/t", "tenure_end": dt.date(2030, 1, 1)}, "supervisor"),
    ({"role": "trainee", "fhir_user": "Practitioner/t", "supervisor": "Practitioner/s"}, "tenure"),
    ({"role": "doctor", "fhir_user": "Practitioner/d", "supervisor": "Practitioner/s"}, "only trainees"),
    ({"fhir_user": "Observation/1"}, "fhir_user"),
])
async def test_account_validation(auth, fields, message):
    values = {"username": "the-user-1", "role": "analyst", "password": PASSWORD, **fields}
    with pytest.raises(BadRequest, match=message):
        await auth.accounts.create(NewAccount(**values))


async def test_passwords_are_argon2_hashes_and_usernames_unique(auth, store):
    account = await add_user(auth, "doc", "doctor")
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash
    with pytest.raises(VersionConflict):
        await add_user(auth, "doc", "doctor")
    assert [a.username for a in await auth.accounts.list_accounts()] == ["doc"]


async def test_login_outcomes(auth):
    await add_user(auth, "doc", "doctor")
    assert (await auth.accounts.authenticate("doc", PASSWORD)).outcome == LoginOutcome.OK
    assert (await auth.accounts.authenticate("doc", "wrong password")).outcome == LoginOutcome.INVALID
    assert (await auth.accounts.authenticate("nobody", PASSWORD)).outcome == LoginOutcome.INVALID
    await auth.accounts.set_disabled("doc", True)
    assert (await auth.accounts.authenticate("doc", PASSWORD)).outcome == LoginOutcome.DISABLED
    await auth.accounts.set_disabled("doc", False)
    assert (await auth.accounts.authenticate("doc", PASSWORD)).outcome == LoginOutcome.OK


async def test_lockout_after_repeated_failures(auth, store):
    account = await add_user(auth, "doc", "doctor")
    for _ in range(2):
        assert (await auth.accounts.authenticate("doc", "wrong password")).outcome == LoginOutcome.INVALID
    assert (await auth.accounts.authenticate("doc", "wrong password")).outcome == LoginOutcome.LOCKED
    assert (await auth.accounts.authenticate("doc", PASSWORD)).outcome == LoginOutcome.LOCKED
    async with store.write() as tx:  # the lock runs out
        await account_rows.update(tx.db, account.account_id, now=int(time.time()), locked_until=int(time.time()) - 1)
    assert (await auth.accounts.authenticate("doc", PASSWORD)).outcome == LoginOutcome.OK
    assert (await auth.accounts.get("doc")).failed_logins == 0


async def test_totp(auth, store):
    await add_user(auth, "doc", "doctor")
    enrolment = await auth.accounts.enroll_totp("doc")
    assert enrolment.provisioning_uri.startswith("otpauth://totp/")
    stored = (await auth.accounts.get("doc")).totp_secret
    assert stored is not None and enrolment.secret.encode() not in stored  # sealed
    assert (await auth.accounts.authenticate("doc", PASSWORD)).outcome == LoginOutcome.INVALID
    assert (await auth.accounts.authenticate("doc", PASSWORD, "000000")).outcome == LoginOutcome.INVALID
    code = totp.current_code(enrolment.secret)
    assert (await auth.accounts.authenticate("doc", PASSWORD, code)).outcome == LoginOutcome.OK
    # the same code cannot be used twice
    assert (await auth.accounts.authenticate("doc", PASSWORD, code)).outcome == LoginOutcome.INVALID


async def test_totp_on_the_login_page(http, auth):
    await add_app(auth)
    await add_user(auth, "pat", "patient")
    secret = (await auth.accounts.enroll_totp("pat")).secret
    browser = Browser(http)
    page = await browser.start(authorize_params(pkce()[1]))
    page = await browser.login(page, "pat")
    assert "Invalid username, password or one-time code" in page.text
    page = await browser.login(page, "pat", otp=totp.current_code(secret))
    assert 'value="consent"' in page.text


async def test_locked_account_on_the_login_page(http, auth):
    await add_app(auth)
    await add_user(auth, "pat", "patient")
    browser = Browser(http)
    page = await browser.start(authorize_params(pkce()[1]))
    for _ in range(3):
        page = await browser.login(page, "pat", password="wrong password!")
    assert "Too many failed attempts" in page.text
    page = await browser.login(page, "pat")
    assert "Too many failed attempts" in page.text


async def test_disabled_account_is_sent_back_with_access_denied(http, auth):
    await add_app(auth)
    await add_user(auth, "pat", "patient")
    await auth.accounts.set_disabled("pat", True)
    response = await Browser(http).authorize(authorize_params(pkce()[1]), "pat")
    assert response.status_code == 302 and "error=access_denied" in response.headers["location"]
    assert "state=st4te" in response.headers["location"]


async def test_password_reset_token_is_single_use_and_ends_sessions(auth, store):
    await add_user(auth, "doc", "doctor")
    token, expires_at = await auth.accounts.create_reset_token("doc")
    assert expires_at > time.time()
    with pytest.raises(BadRequest):
        await auth.accounts.reset_password(token, "short")
    await auth.accounts.reset_password(token, "a brand new password")
    assert (await auth.accounts.authenticate("doc", PASSWORD)).outcome == LoginOutcome.INVALID
    assert (await auth.accounts.authenticate("doc", "a brand new password")).outcome == LoginOutcome.OK
    with pytest.raises(BadRequest, match="not valid"):
        await auth.accounts.reset_password(token, "another new password")
    with pytest.raises(BadRequest):
        await auth.accounts.reset_password("made-up", "another new password")


async def test_password_reset_token_expires(auth, store):
    account = await add_user(auth, "doc", "doctor")
    token, _ = await auth.accounts.create_reset_token("doc")
    async with store.write() as tx:
        await tx.db.execute("UPDATE auth_reset_tokens SET expires_at = $1 WHERE account_id = $2",
                            int(time.time()) - 1, account.account_id)
    assert not await auth.accounts.reset_token_valid(token)
    with pytest.raises(BadRequest):
        await auth.accounts.reset_password(token, "a brand new password")


async def test_password_reset_pages(http, auth):
    await add_user(auth, "doc", "doctor")
    for _ in range(3):
        await auth.accounts.authenticate("doc", "wrong password")
    token, _ = await auth.accounts.create_reset_token("doc")
    page = await http.get(f"/auth/password-reset?token={token}")
    assert page.status_code == 200 and 'name="password"' in page.text
    fields = hidden(page.text)
    differ = await http.post("/auth/password-reset", data={**fields, "password": "new password 1",
                                                           "confirm": "new password 2"})
    assert differ.status_code == 400
    forged = await http.post("/auth/password-reset", data={**fields, "csrf": "forged", "password": "new password 1",
                                                           "confirm": "new password 1"})
    assert forged.status_code == 400
    done = await http.post("/auth/password-reset", data={**fields, "password": "new password 1",
                                                         "confirm": "new password 1"})
    assert done.status_code == 200 and "has been changed" in done.text
    assert (await auth.accounts.authenticate("doc", "new password 1")).outcome == LoginOutcome.OK  # unlocked too
    again = await http.get(f"/auth/password-reset?token={token}")
    assert "not valid" in again.text


def test_tenure_end_is_the_next_midnight_utc():
    assert tenure_end_from_date(dt.date(2027, 6, 30)) == int(dt.datetime(2027, 7, 1, tzinfo=dt.UTC).timestamp())
