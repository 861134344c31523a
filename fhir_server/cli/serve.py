"""`fhir-server serve` and `fhir-server all`: the HTTP API (uvicorn), alone or with the gateway and worker."""

from __future__ import annotations

import asyncio
import os

import click

from fhir_server.cli.common import fail, is_loopback, load_settings, prepare

__all__ = ["serve", "run_all"]


def check_mode(host: str, dev: bool) -> None:
    if dev:
        if not is_loopback(host):
            fail(f"--dev turns access control off, so it only binds to loopback (127.0.0.1 or ::1), not {host}")
        banner = ("!" * 78 + "\n!!  DEV MODE: NO ACCESS CONTROL. Requests without a token are served.\n"
                  "!!  Bound to loopback only; never use this mode with real patient data.\n" + "!" * 78)
        click.echo(click.style(banner, fg="red", bold=True), err=True)
        return
    settings = load_settings()
    if not settings.base_url and not is_loopback(host):
        click.echo("warning: FHIR_BASE_URL is not set, so token audiences and OAuth URLs follow each request's "
                   "Host header; set it to the public URL of /fhir", err=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--dev", is_flag=True, help="Loopback-only demo mode without access control.")
def serve(host: str, port: int, workers: int, dev: bool) -> None:
    """Run the FHIR REST API (uvicorn)."""
    import uvicorn

    check_mode(host, dev)
    if dev:
        os.environ["FHIR_DEV_MODE"] = "true"
    settings = load_settings(dev_mode=dev or None)
    asyncio.run(prepare(settings))
    click.echo(f"FHIR R4 endpoint at http://{host}:{port}/fhir (database: "
               f"{'SQLite in ' + str(settings.data_dir) if settings.is_sqlite else 'PostgreSQL'})", err=True)
    uvicorn.run("fhir_server.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level=settings.log_level, access_log=False, proxy_headers=True)


@click.command("all")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--dev", is_flag=True, help="Loopback-only demo mode without access control.")
@click.pass_context
def run_all(ctx: click.Context, host: str, port: int, dev: bool) -> None:
    """Run the API, the HL7 listener and the job worker in one process (embedded default)."""
    os.environ["FHIR_EMBEDDED"] = "true"
    ctx.invoke(serve, host=host, port=port, workers=1, dev=dev)
