"""Refuses the NUL character wherever a request carries text — path, query, JSON body, form — naming the field.

PostgreSQL cannot store NUL in text (asyncpg raises, a 500), SQLite would store it, and nothing a person types
contains one; so it is refused alike on every database. This runs as an app-wide dependency, before any route's own
dependencies and validation, so every route and every schema is covered without each having to remember it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from oodaloo.infra.web.errors import InvalidInput

NUL = "\x00"
# How NUL can appear in a JSON document's text: the escape (a raw NUL byte is not valid JSON and never parses).
_JSON_NUL = b"\\u0000"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class NulCharacter(InvalidInput):
    code = "nul_character"

    def __init__(self, field: str) -> None:
        super().__init__(f"{field}: text must not contain the NUL character (U+0000)", field=field)


async def refuse_nul_characters(request: Request) -> None:
    """Raise ``NulCharacter`` for the first field of the request whose name or text holds NUL."""
    for field in _fields_with_nul(request):
        raise NulCharacter(field)
    for field in await _body_fields_with_nul(request):
        raise NulCharacter(field)


def _fields_with_nul(request: Request) -> Iterator[str]:
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            yield name
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            yield _printable(name)


async def _body_fields_with_nul(request: Request) -> list[str]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type in _FORM_TYPES:
        # FastAPI has parsed the form already for a route that takes one; Starlette hands back the same object.
        form = await request.form()
        return [
            _printable(name)
            for name, value in form.multi_items()
            if NUL in name or (not isinstance(value, UploadFile) and NUL in value)
        ]
    if content_type == "application/json" or content_type.endswith("+json") or not content_type:
        body = await request.body()
        if _JSON_NUL not in body:  # the common case costs one byte search, no second parse
            return []
        try:
            document = json.loads(body)
        except ValueError:
            return []  # not JSON after all: the route's own parsing reports it
        return list(_json_fields_with_nul(document, ()))
    return []


def _json_fields_with_nul(value: Any, path: tuple[str, ...]) -> Iterator[str]:
    """Fields named like validation errors name them: ``email``, ``lines.0.memo``."""
    if isinstance(value, str):
        if NUL in value:
            yield ".".join(path) or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield ".".join((*path, _printable(key)))
            else:
                yield from _json_fields_with_nul(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_fields_with_nul(item, (*path, str(index)))


def _printable(name: str) -> str:
    # A field's own name may be what holds the NUL; the error names it with the character shown, not embedded.
    return name.replace(NUL, "\\u0000")
