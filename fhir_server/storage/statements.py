"""SQLAlchemy statements (searches, conditional matches) as SQL text and positional parameters for
the driver, compiled once per statement shape.

Compiling a SQLAlchemy statement costs about as much as running a selective search, so compiled
forms are kept by the statement's cache key (the same key SQLAlchemy's own execution cache uses:
the statement's structure without its literal values), and each new statement of a known shape only
has its parameter values extracted. `IN` lists expand per call, as they do when SQLAlchemy executes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.elements import ClauseElement

__all__ = ["Renderer", "compile_for"]


class Renderer:
    """`render(statement) -> (sql, params)` for one dialect, with an LRU of compiled shapes."""

    def __init__(self, dialect: Dialect, size: int = 1024) -> None:
        self.dialect = dialect
        self.size = size
        self._compiled: OrderedDict[Any, Compiled] = OrderedDict()

    def __call__(self, statement: ClauseElement) -> tuple[str, list[Any]]:
        key = statement._generate_cache_key()
        if key is None:  # an element that cannot be cached: compile it as it is
            return self._expand(statement.compile(dialect=self.dialect), None, None)
        compiled = self._compiled.get(key.key)
        if compiled is None:
            compiled = statement.compile(dialect=self.dialect, cache_key=key)
            self._compiled[key.key] = compiled
            if len(self._compiled) > self.size:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(key.key)
        return self._expand(compiled, key.bindparams, statement)

    @staticmethod
    def _expand(compiled: Compiled, bindparams: Any, statement: ClauseElement | None) -> tuple[str, list[Any]]:
        params = compiled.construct_params(extracted_parameters=bindparams, escape_names=False,
                                           _no_postcompile=True)  # type: ignore[call-arg]
        expanded = compiled._process_parameters_for_postcompile(params)  # type: ignore[attr-defined]
        processors = expanded.processors
        values = []
        for name in expanded.positiontup or ():
            value = expanded.parameters[name]
            processor = processors.get(name)
            values.append(processor(value) if processor is not None else value)
        return expanded.statement, values


_RENDERERS: dict[Dialect, Renderer] = {}


def compile_for(statement: ClauseElement, dialect: Dialect) -> tuple[str, list[Any]]:
    """`statement` as SQL text and positional parameters, through the dialect's shared renderer."""
    renderer = _RENDERERS.get(dialect)
    if renderer is None:
        renderer = _RENDERERS[dialect] = Renderer(dialect)
    return renderer(statement)
