"""`fhir-server import` and `fhir-server demo` as an operator runs them (embedded SQLite default)."""

from __future__ import annotations

import json
import sqlite3

import orjson

from tests.fhir_server.api.samples import patient
from tests.fhir_server.test_cli import run_cli


def test_import_reports_counts_and_rejected_lines(tmp_path):
    data_dir = tmp_path / "data"
    source = tmp_path / "in" / "patients.ndjson"
    source.parent.mkdir()
    source.write_bytes(b"".join(orjson.dumps(patient(id=f"c{n}")) + b"\n" for n in range(30)) + b"{broken\n")
    rejects = tmp_path / "rejects.ndjson"
    result = run_cli("import", str(source.parent), "--batch-size", "7", "--rejects", str(rejects), "--workers", "1",
                     data_dir=data_dir, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "imported 30 resources (30 created, 0 updated)" in result.stdout
    assert "rejected 1 record(s)" in result.stdout
    reject = json.loads(rejects.read_text())
    assert reject["file"] == str(source) and reject["line"] == 31
    assert reject["outcome"]["resourceType"] == "OperationOutcome"
    again = run_cli("import", str(source), "--no-progress", "--workers", "0", data_dir=data_dir, timeout=180)
    assert again.returncode == 0 and "skipped 1 file(s) already imported" in again.stdout
    with sqlite3.connect(data_dir / "fhir.db") as db:
        assert db.execute("SELECT count(*) FROM resources").fetchone()[0] == 30


def test_import_of_a_missing_path_fails_clearly(tmp_path):
    result = run_cli("import", str(tmp_path / "nowhere.ndjson"), data_dir=tmp_path / "data")
    assert result.returncode != 0 and "does not exist" in result.stderr


def test_demo_loads_a_populated_server(tmp_path):
    data_dir = tmp_path / "data"
    result = run_cli("demo", "--patients", "5", "--seed", "2", "--no-progress", data_dir=data_dir, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "generated" in result.stdout and "imported" in result.stdout
    with sqlite3.connect(data_dir / "fhir.db") as db:
        types = dict(db.execute("SELECT res_type, count(*) FROM resources GROUP BY res_type").fetchall())
    assert types["Patient"] == 5 and types["Practitioner"] > 0 and types["Observation"] > 20
