"""The R4 examples for `test_r4_examples.py`: the sample kept in `examples/`, and the whole npm package
`hl7.fhir.r4.examples@4.0.1` when it is cached or can be fetched."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from resources.fhir_json import loads

SAMPLE = Path(__file__).with_name("examples")
PACKAGE = "hl7.fhir.r4.examples@4.0.1"
TARBALL = "hl7.fhir.r4.examples-4.0.1.tgz"
CACHE = Path(os.environ.get("FHIR_R4_EXAMPLES_CACHE", Path.home() / ".cache" / "fhir-server"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "r4_examples: needs the whole R4 examples package (cached or fetched)")


def sample_examples() -> Iterator[tuple[str, dict]]:
    for path in sorted(SAMPLE.glob("*.json")):
        yield path.name, loads(path.read_bytes())


def examples_package() -> tuple[Path | None, str]:
    """The cached tarball, fetched with `npm pack` when missing and `FHIR_R4_EXAMPLES_FETCH=1`; or None
    and why not. Checking all 5,300 examples takes minutes, so a plain run (and CI) checks the sample
    unless the package was cached on purpose."""
    tarball = CACHE / TARBALL
    if tarball.is_file():
        return tarball, ""
    if os.environ.get("FHIR_R4_EXAMPLES_FETCH") != "1":
        return None, (f"{PACKAGE} is not cached in {CACHE}; set FHIR_R4_EXAMPLES_FETCH=1 to fetch it with npm "
                      "(the sample in tests/conformance/examples ran instead)")
    npm = shutil.which("npm")
    if npm is None:
        return None, f"{PACKAGE} is not cached in {CACHE} and npm is not installed to fetch it"
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([npm, "pack", PACKAGE, "--pack-destination", str(CACHE)], check=True, timeout=300,
                       capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"{PACKAGE} could not be fetched with npm: {exc}"
    return (tarball, "") if tarball.is_file() else (None, f"npm pack did not write {tarball}")


def package_examples(tarball: Path) -> Iterator[tuple[str, dict]]:
    with tarfile.open(tarball) as archive:
        for member in archive:
            name = member.name.rpartition("/")[2]
            if not member.isfile() or not name.endswith(".json") or name == "package.json" or name.startswith("."):
                continue
            resource = loads(archive.extractfile(member).read())  # type: ignore[union-attr]
            if isinstance(resource, dict) and "resourceType" in resource:
                yield name, resource
