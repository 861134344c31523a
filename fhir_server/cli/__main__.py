"""`python -m fhir_server.cli` runs the `fhir-server` command."""

from fhir_server.cli import main

main()
