"""`fhir-server users …` and `fhir-server clients …` on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

from fhir_server.cli.accounts import clients, users
from tests.fhir_server.auth.harness import PASSWORD, login_and_token, rsa_key


def test_users(cli):
    result = cli(users, "add", "--username", "dr.okafor", "--role", "doctor", "--password-stdin",
                 "--fhir-user", "Practitioner/42", input=f"{PASSWORD}\n")
    assert "created doctor account dr.okafor" in result.output
    cli(users, "add", "--username", "trainee.1", "--role", "trainee", "--password-stdin", "--fhir-user",
        "Practitioner/43", "--supervisor", "Practitioner/42", "--tenure-end", "2030-06-30", input=f"{PASSWORD}\n")
    refused = cli(users, "add", "--username", "dr.okafor", "--role", "doctor", "--password-stdin",
                  "--fhir-user", "Practitioner/42", input=f"{PASSWORD}\n", ok=False)
    assert refused.exit_code != 0 and "already an account" in refused.output
    weak = cli(users, "add", "--username", "x.y", "--role", "analyst", "--password-stdin", input="short\n", ok=False)
    assert weak.exit_code != 0 and "at least" in weak.output
    empty = cli(users, "add", "--username", "x.y", "--role", "analyst", "--password-stdin", input="", ok=False)
    assert empty.exit_code != 0
    listed = json.loads(cli(users, "list", "--json").output)
    assert [(u["username"], u["role"]) for u in listed] == [("dr.okafor", "doctor"), ("trainee.1", "trainee")]
    assert listed[1]["tenure_end"] == "2030-06-30" and listed[1]["supervisor"] == "Practitioner/42"
    table = cli(users, "list").output
    assert "dr.okafor" in table and "tenure_end" in table
    cli(users, "disable", "--username", "trainee.1")
    assert json.loads(cli(users, "list", "--json").output)[1]["disabled"] is True
    cli(users, "enable", "--username", "trainee.1")
    enrolled = cli(users, "enroll-totp", "--username", "dr.okafor").output
    assert "otpauth://totp/" in enrolled
    reset = cli(users, "reset-password", "--username", "dr.okafor").output
    assert "/auth/password-reset?token=" in reset
    cli(users, "set-tenure", "--username", "trainee.1", "--tenure-end", "2031-01-31")
    missing = cli(users, "disable", "--username", "nobody", ok=False)
    assert missing.exit_code != 0 and "no account" in missing.output


def test_clients(cli, tmp_path):
    result = cli(clients, "add", "--client-id", "growth-chart", "--scopes", "launch openid patient/*.rs",
                 "--public", "--redirect-uri", "https://apps.example/cb", "--redirect-uri", "http://localhost:9000/cb")
    assert "registered growth-chart (none" in result.output
    cli(clients, "add", "--client-id", "portal", "--scopes", "openid user/*.rs", "--secret-stdin",
        "--redirect-uri", "https://portal.example/cb", input="a-long-enough-client-secret\n")
    _, jwks = rsa_key()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    cli(clients, "add", "--client-id", "lab-sync", "--scopes", "system/Observation.cruds", "--jwks", str(path))
    cli(clients, "add", "--client-id", "bulk", "--scopes", "system/*.rs", "--jwks-uri", "https://bulk.example/jwks")
    both = cli(clients, "add", "--client-id", "x", "--scopes", "system/*.rs", "--public", "--jwks-uri",
               "https://x.example/jwks", ok=False)
    assert both.exit_code != 0 and "exactly one" in both.output
    system_public = cli(clients, "add", "--client-id", "y", "--scopes", "system/*.rs", "--public",
                        "--redirect-uri", "https://y.example/cb", ok=False)
    assert system_public.exit_code != 0 and "backend services" in system_public.output
    listed = {c["client_id"]: c for c in json.loads(cli(clients, "list", "--json").output)}
    assert listed["growth-chart"]["redirect_uris"] == ["https://apps.example/cb", "http://localhost:9000/cb"]
    assert listed["portal"]["auth_method"] == "client_secret_basic"
    assert listed["lab-sync"]["grant_types"] == ["client_credentials"]
    assert listed["bulk"]["jwks_uri"] == "https://bulk.example/jwks"
    assert "lab-sync" in cli(clients, "list").output
    cli(clients, "remove", "--client-id", "bulk")
    assert "bulk" not in {c["client_id"] for c in json.loads(cli(clients, "list", "--json").output)}
    gone = cli(clients, "remove", "--client-id", "bulk", ok=False)
    assert gone.exit_code != 0


async def test_an_account_made_by_the_cli_logs_in_and_disabling_it_reaches_the_server(cli, http, auth):
    def invoke(*args, input=None):
        return cli(*args, input=input)

    await asyncio.to_thread(invoke, clients, "add", "--client-id", "app", "--public", "--scopes",
                            "launch/patient openid patient/*.rs", "--redirect-uri", "https://app.example.org/callback")
    await asyncio.to_thread(invoke, users, "add", "--username", "pat", "--role", "patient", "--password-stdin",
                            "--fhir-user", "Patient/p1", input=f"{PASSWORD}\n")
    token = await login_and_token(http, "pat", scope="launch/patient openid patient/*.rs")
    headers = {"authorization": f"Bearer {token['access_token']}"}
    assert (await http.get("/fhir/Patient/p1", headers=headers)).status_code == 200
    await asyncio.to_thread(invoke, users, "disable", "--username", "pat")
    await auth.revocations.poll()  # what the server's poller does every few seconds
    assert (await http.get("/fhir/Patient/p1", headers=headers)).status_code == 401
