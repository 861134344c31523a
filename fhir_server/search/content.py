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
from collections.abc import Iterable, Iterator
from typing import Any

from fhir_server.search.normalize import normalize, truncate

__all__ = ["text_words", "content_words", "content_rows", "MAX_WORDS"]

MAX_WORDS = 64
_TAG = re.compile(r"<[^>]*>")
_SKIPPED_KEYS = frozenset({"resourceType", "id", "reference", "system", "url", "fullUrl", "version", "meta",
                           "div", "contentType", "language", "data", "contained"})
_MACHINE = re.compile(r"\d{4}-\d{2}|[a-z][a-z0-9+.-]*:[^ ]|[0-9a-f]{8}-[0-9a-f]{4}-")


# texts are normalised this many characters at a time: one call for most resources, and a resource
# whose first texts hold MAX_WORDS words is not normalised further
_CHUNK = 4096


def _words(texts: Iterable[str]) -> list[str]:
    """The first MAX_WORDS distinct normalised words of more than one character, in order."""
    seen: dict[str, None] = {}
    chunk: list[str] = []
    size = 0
    for text in texts:
        chunk.append(text)
        size += len(text)
        if size >= _CHUNK:
            if _add_words(seen, chunk):
                return list(seen)
            chunk, size = [], 0
    if chunk:
        _add_words(seen, chunk)
    return list(seen)


def _add_words(seen: dict[str, None], texts: list[str]) -> bool:
    """Add the words of `texts` (normalised together: the same words as one by one); True once full."""
    for word in normalize(" ".join(texts)).split():
        if len(word) > 1 and word not in seen:
            seen[truncate(word)] = None
            if len(seen) >= MAX_WORDS:
                return True
    return False


def _narrative(resource: dict[str, Any]) -> Iterator[str]:
    text = resource.get("text")
    div = text.get("div") if isinstance(text, dict) else None
    if isinstance(div, str):
        yield html.unescape(_TAG.sub(" ", div))


def _strings(value: dict[str, Any] | list[Any], out: list[str]) -> list[str]:
    """Append the texts under `value`, in document order, to `out` (and return it)."""
    # exact types, not isinstance: parsed JSON holds no subclasses, and this runs for every value of
    # every resource written
    for item in value if type(value) is list else [
            item for key, item in value.items() if key not in _SKIPPED_KEYS and key[:1] != "_"]:
        kind = type(item)
        if kind is str:
            if not _MACHINE.match(item):
                out.append(item)
        elif kind is dict or kind is list:
            _strings(item, out)
    return out


def text_words(resource: dict[str, Any]) -> list[str]:
    return _words(_narrative(resource))


def content_words(resource: dict[str, Any]) -> list[str]:
    return _words([*_strings(resource, []), *_narrative(resource)])


def content_rows(resource: dict[str, Any], *, text: bool, content: bool) -> Iterator[dict[str, Any]]:
    """Text index rows (without res_type) for `_text` and `_content`, as asked: the words of each
    joined by spaces (none for a resource without words)."""
    if text and (words := text_words(resource)):
        yield {"param": "_text", "words": " ".join(words)}
    if content and (words := content_words(resource)):
        yield {"param": "_content", "words": " ".join(words)}
