"""The `fhir-server` command. Integrators script against these names: keep them stable.

    fhir-server serve [--host H] [--port 8080] [--workers N] [--dev]
    fhir-server migrate
    fhir-server keys rotate [--retire-old] | keys generate
    fhir-server worker | all
    fhir-server mllp | hl7 list|show|replay   (from the HL7 gateway, through the fhir_server.commands entry point)
    fhir-server import PATH... [--batch-size N] [--workers N] [--restart] | demo [--patients N] [--seed S]

Each group of commands lives in its own module and is registered here.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import entry_points

import click

from fhir_server.cli.accounts import clients, users
from fhir_server.cli.admin import keys, migrate
from fhir_server.cli.data import demo, import_command
from fhir_server.cli.serve import run_all, serve
from fhir_server.cli.worker import worker

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """FHIR R4 server: REST API, HL7 v2 gateway, job worker and administration."""
    logging.basicConfig(level=os.environ.get("FHIR_LOG_LEVEL", "info").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for command in (serve, run_all, migrate, keys, worker, import_command, demo, users, clients):
    main.add_command(command)

# the HL7 gateway and the AI pipeline sit above the core and add their commands through this entry
# point group, so nothing here imports them
for entry_point in entry_points(group="fhir_server.commands"):
    main.add_command(entry_point.load(), entry_point.name)
