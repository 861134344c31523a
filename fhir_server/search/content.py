"""`_text` and `_content`: word search over a resource's narrative and over all its text.

https://hl7.org/fhir/R4/search.html#content: `_text` searches the narrative (`text.div`), `_content`
the whole resource. Both are indexed as the distinct normalised words (see `normalize`), one
`search_text` row per resource and code holding them all; a search term matches a resource when every
word of the term starts some indexed word (`_content=gluc serum` finds "Glucose [Mass/volume] in
Serum"). `_content` reads every string of the resource except identifiers of the machinery (ids,
references, systems, URLs, dates); at most `MAX_WORDS` words are kept per resource and parameter.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

from fhir_server.search.normalize import normalize, truncate

__all__ = ["text_words", "content_words", "content_rows", "MAX_WORDS"]

MAX_WORDS = 64
_TAG = re.compile(r"<[^>]*>")
_SKIPPED_KEYS = frozenset({"resourceType", "id", "reference", "system", "url", "fullUrl", "version", "meta",
                           "div", "contentType", "language", "data", "contained"})
_MACHINE = re.compile(r"\d{4}-\d{2}|[a-z][a-z0-9+.-]*:[^ ]|[0-9a-f]{8}-[0-9a-f]{4}-")


def _words(texts: Iterator[str]) -> list[str]:
    seen: dict[str, None] = {}
    for text in texts:
        for word in normalize(text).split():
            if len(word) > 1:
                seen.setdefault(truncate(word), None)
                if len(seen) >= MAX_WORDS:
                    return list(seen)
    return list(seen)


def _narrative(resource: dict[str, Any]) -> Iterator[str]:
    text = resource.get("text")
    div = text.get("div") if isinstance(text, dict) else None
    if isinstance(div, str):
        yield html.unescape(_TAG.sub(" ", div))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if not _MACHINE.match(value):
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _SKIPPED_KEYS and not key.startswith("_"):
                yield from _strings(item)


def text_words(resource: dict[str, Any]) -> list[str]:
    return _words(_narrative(resource))


def content_words(resource: dict[str, Any]) -> list[str]:
    def texts() -> Iterator[str]:
        yield from _strings(resource)
        yield from _narrative(resource)

    return _words(texts())


def content_rows(resource: dict[str, Any], *, text: bool, content: bool) -> Iterator[dict[str, Any]]:
    """Text index rows (without res_type) for `_text` and `_content`, as asked: the words of each
    joined by spaces (none for a resource without words)."""
    if text and (words := text_words(resource)):
        yield {"param": "_text", "words": " ".join(words)}
    if content and (words := content_words(resource)):
        yield {"param": "_content", "words": " ".join(words)}
