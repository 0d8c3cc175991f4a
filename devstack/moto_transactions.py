"""moto's TransactWriteItems made linear, not quadratic, in its item count (the embedded stack and
the tests install it into the moto server they run).

moto (5.x) snapshots the table for its rollback with a deep copy, once per *action* of a
transaction: a 2,000-reading batch then costs ~2 million item copies and minutes, where DynamoDB
takes milliseconds. ``install()`` makes a transaction of Put actions only (the ingest batch)
snapshot each table once, copying its index of items but sharing the items: a Put replaces an
item and never changes one in place, so the rollback restores exactly what the deep copy would.
Any other transaction keeps moto's deep copies. What moto answers (writes, cancellations, their
reasons and items) is unchanged.
"""

from __future__ import annotations

import copy
import threading
import types
from collections import defaultdict
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.models.table import Table

_local = threading.local()


def _deepcopy(obj: Any, memo: dict[int, Any] | None = None) -> Any:
    snapshots: dict[int, Any] | None = getattr(_local, "snapshots", None)
    if snapshots is None or memo is not None or not isinstance(obj, Table):
        return copy.deepcopy(obj, memo)
    if id(obj) not in snapshots:
        snapshot = copy.copy(obj)
        snapshot.items = defaultdict(
            dict,
            {
                key: dict(value) if isinstance(value, dict) else value
                for key, value in obj.items.items()
            },
        )
        snapshots[id(obj)] = snapshot
    return snapshots[id(obj)]


def install() -> None:
    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_linear", False):
        return
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        puts_only = all(set(action) == {"Put"} for action in transact_items)
        _local.snapshots = {} if puts_only else None
        try:
            return original(self, transact_items)
        finally:
            _local.snapshots = None

    transact_write_items._linear = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    shim = types.SimpleNamespace(**{**vars(copy), "deepcopy": _deepcopy})
    setattr(models, "copy", shim)  # noqa: B010 (the module's own name for the copy module)
