"""A batch under the real awslambdaric with a timeout too short for it: the function answers what
landed before its deadline and lists the rest as failed, instead of being stopped mid-batch."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from devstack import moto_transactions
from devstack.runtime import FunctionProcess
from handlers.readings.settings import BATCH_RESERVE_SECONDS
from infra import tables
from infra.functions import INGEST
from tests import events

ROOT = Path(__file__).resolve().parents[2]


def test_a_batch_meeting_its_deadline_answers_what_landed(
    aws_env: str, unique: str, tmp_path: Path
) -> None:
    moto_transactions.install()
    table = f"Shop_Thermostat-{unique}"
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(**tables.create_table_request(tables.READINGS, table))
    batch = [
        {
            "record_date": f"2026-11-{1 + m // 1440:02d}T{m // 60 % 24:02d}:{m % 60:02d}:00Z",
            "thermostat_on": m % 2 == 0,
            "temperature": 20.5,
            "thermostat_value": 20,
        }
        for m in range(2000)
    ]
    with (tmp_path / "ingest.log").open("wb") as log:
        process = FunctionProcess(
            "deadline-ingest",
            INGEST.handler,
            environment={**INGEST.environment, "READINGS_TABLE": table},
            memory_mb=INGEST.memory_mb,
            # Half a second past the reserve: time for a few transactions, not for 2,000 readings.
            timeout_s=BATCH_RESERVE_SECONDS + 0.5,
            cwd=ROOT,
            log=log,
        )
        try:
            answer, report = process.invoke(
                events.function_url("POST", "/", body=json.dumps(batch))
            )
        finally:
            process.close()
    assert report.status == "ok"  # answered, not stopped
    assert answer["statusCode"] == 503
    body = json.loads(answer["body"])
    stored = dynamodb.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]
    assert len(body["failed"]) > 0 and body["stored"] == stored
    assert body["stored"] + len(body["failed"]) == len(batch)
    # Exactly the readings not stored are listed: the first ones landed, the rest were not tried.
    assert body["failed"] == list(range(body["stored"], len(batch)))
