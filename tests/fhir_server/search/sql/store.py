"""The sample store the SQL tests query (filled by the `store` fixture in conftest)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir_server.search import SearchRegistry, compile_query, parse_query


@dataclass
class Store:
    """The sample resources written with their index rows; queries answer "Type/id" strings."""

    engine: AsyncEngine
    registry: SearchRegistry
    names: dict[int, str]

    async def pks(self, statement: Select[Any]) -> list[int]:
        async with self.engine.connect() as conn:
            return [row[0] for row in (await conn.execute(statement)).all()]

    async def search(self, resource_type: str, *pairs: tuple[str, str]) -> set[str]:
        query = parse_query(self.registry, resource_type, list(pairs))
        return {self.names[pk].partition("/")[2] for pk in await self.pks(compile_query(query))}

    def ordered(self, pks: Sequence[int]) -> list[str]:
        return [self.names[pk].partition("/")[2] for pk in pks]
