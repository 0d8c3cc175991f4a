"""The ingest function's configuration, from environment variables read once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from handlers.common.config import FUNCTION_NAME, integer
from handlers.readings.table import READINGS

# The variables the ingest function reads: the one list of their names (the template, the local
# stacks and the configuration reference are checked against it).
READINGS_TABLE: Final = "READINGS_TABLE"
MAX_BODY_BYTES: Final = "MAX_BODY_BYTES"
MAX_BATCH: Final = "MAX_BATCH"
RETENTION_DAYS: Final = "RETENTION_DAYS"

VARIABLES: Final = (READINGS_TABLE, MAX_BODY_BYTES, MAX_BATCH, RETENTION_DAYS)

# A batch starts no transaction with less time than this left (handlers.readings.store): the
# slowest transaction of 100 readings measured at 128 MB, with room to answer (docs/ingest.md,
# "Batch size and timeout").
BATCH_RESERVE_SECONDS: Final = 2.0


@dataclass(frozen=True)
class IngestSettings:
    readings_table: str = str(READINGS["TableName"])
    max_body_bytes: int = 256 * 1024  # a 1,000-reading backlog is ~110 KB
    max_batch: int = 2000
    page_size: int = 500  # GET /readings default page
    max_page_size: int = 1000
    retention_days: int = 0  # 0: readings are kept forever
    function_name: str = "thumbstat-ingest"  # outside Lambda; the metrics' dimension

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestSettings:
        env = os.environ if environ is None else environ
        return cls(
            readings_table=env.get(READINGS_TABLE) or cls.readings_table,
            max_body_bytes=integer(env, MAX_BODY_BYTES, cls.max_body_bytes, 1, 6 * 2**20),
            max_batch=integer(env, MAX_BATCH, cls.max_batch, 1, 100_000),
            retention_days=integer(env, RETENTION_DAYS, cls.retention_days, 0, 36_500),
            function_name=env.get(FUNCTION_NAME) or cls.function_name,
        )
