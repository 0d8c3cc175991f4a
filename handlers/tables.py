"""The DynamoDB table definitions: one source for the deploy template, the local stack and tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

IMAGE_INDEX: Final[dict[str, Any]] = {
    "TableName": "image_metadata",
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
}

READINGS: Final[dict[str, Any]] = {
    "TableName": "Shop_Thermostat",
    "AttributeDefinitions": [
        {"AttributeName": "Record_Day", "AttributeType": "S"},
        {"AttributeName": "Record_Date", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "Record_Day", "KeyType": "HASH"},
        {"AttributeName": "Record_Date", "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
# The readings' TTL attribute (epoch seconds), set only when RETENTION_DAYS is; the template
# enables the table's TTL on it under the same condition.
READINGS_EXPIRES_AT: Final = "Expires_At"


def create_table_request(definition: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """A CreateTable request for ``definition``, optionally under another name."""
    return {**definition, "TableName": name or definition["TableName"]}


def plain(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """An item without its type tags ({"S": "x"} -> "x"), for display and tests."""
    return {name: next(iter(value.values())) for name, value in item.items()}
