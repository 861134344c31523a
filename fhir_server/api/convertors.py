"""Path segment convertors for the FHIR routes.

A resource type starts with a letter and an id with neither `_` nor `$`, so `/fhir/_search`,
`/fhir/Patient/_history` and `/fhir/Patient/$validate` never reach the type and instance routes.
An id that breaks the FHIR id rules in other ways still reaches them, to be refused with a 400.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

__all__ = ["register_fhir_convertors"]


class ResourceTypeConvertor(Convertor[str]):
    regex = "[A-Za-z][^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class IdConvertor(Convertor[str]):
    regex = "[^/_$][^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def register_fhir_convertors() -> None:
    register_url_convertor("type", ResourceTypeConvertor())
    register_url_convertor("id", IdConvertor())


register_fhir_convertors()
