"""The readings table's definition: the deploy template, the local stacks and the tests create it
from this (``infra.tables``); ``handlers.readings.store`` owns its items' shape."""

from __future__ import annotations

from typing import Any, Final

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
