"""The `fhir-server` command. Integrators script against these names: keep them stable.

    fhir-server serve [--host H] [--port 8080] [--workers N] [--dev]
    fhir-server migrate
    fhir-server keys rotate [--retire-old] | keys generate
    fhir-server worker | mllp | all

Each group of commands lives in its own module and is registered here.
"""

from __future__ import annotations

import logging
import os

import click
from fhir_server.cli.worker import worker

from fhir_server.cli.admin import keys, migrate
from fhir_server.cli.serve import run_all, serve

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """FHIR R4 server: REST API, HL7 v2 gateway, job worker and administration."""
    logging.basicConfig(level=os.environ.get("FHIR_LOG_LEVEL", "info").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for command in (serve, run_all, migrate, keys, worker):
    main.add_command(command)


@main.command()
def mllp() -> None:
    """Run the HL7 v2 MLLP listener."""
    raise click.ClickException("the HL7 v2 MLLP gateway is not part of this build yet")
