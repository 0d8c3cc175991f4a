"""Both DynamoDB tables, for the tooling: the deploy template, the local stacks and the tests
create them from the definitions each function's package owns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from handlers.index.table import IMAGE_INDEX
from handlers.readings.table import READINGS, READINGS_EXPIRES_AT

__all__ = [
    "IMAGE_INDEX",
    "READINGS",
    "READINGS_EXPIRES_AT",
    "TABLES",
    "create_table_request",
    "plain",
]

TABLES: Final = (IMAGE_INDEX, READINGS)


def create_table_request(definition: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """A CreateTable request for ``definition``, optionally under another name."""
    return {**definition, "TableName": name or definition["TableName"]}


def plain(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """An item without its type tags ({"S": "x"} -> "x"), for display and tests."""
    return {name: next(iter(value.values())) for name, value in item.items()}
