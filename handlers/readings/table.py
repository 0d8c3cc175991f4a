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

# Clock-suspect readings (Reading.clock_suspect) are held apart in the same table, under keys no
# trusted reading can have: Record_Day "held#<the date as sent>", Record_Date "<record_date as
# sent>#<digest of the reading>". A trusted partition is a bare date, so a day's query never
# meets a held reading; the digest lets two different readings a wrong clock stamped alike (every
# boot without a real-time clock starts at 1970-01-01T00:00:00) be held side by side, while the
# same reading sent again is a duplicate. handlers.readings.store builds and reads these keys.
HELD_PARTITION_PREFIX: Final = "held#"
HELD_KEY_SEPARATOR: Final = "#"
# The attribute marking a held item (BOOL true), beside its key.
READINGS_CLOCK_SUSPECT: Final = "Clock_Suspect"
