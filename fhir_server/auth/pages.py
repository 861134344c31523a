"""Server-rendered pages of the authorization server (Jinja2, HTML-escaped, no scripts)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["render"]


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("fhir_server.auth", "templates"), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)
