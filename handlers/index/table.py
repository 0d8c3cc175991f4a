"""The index table's definition: the deploy template, the local stacks and the tests create it
from this (``infra.tables``); ``handlers.index.store`` owns its items' shape."""

from __future__ import annotations

from typing import Any, Final

IMAGE_INDEX: Final[dict[str, Any]] = {
    "TableName": "image_metadata",
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
}
