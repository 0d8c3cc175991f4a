"""The local stacks' resources, defined once: the embedded stack creates them through botocore, and
LocalStack's ready hook (``devstack/localstack/ready.sh``, generated from this module) creates the
same ones with the `aws` CLI.

    python -m devstack.resources > devstack/localstack/ready.sh     (make localstack-hook)

Names and table definitions are those the deploy template uses (``handlers.common.tables``,
``infra.functions``); the bucket and queue names are local only (the template generates its own).
"""

from __future__ import annotations

import json
import shlex
import sys
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from devstack import clients
from handlers.common import aws
from handlers.index import settings as resize_settings
from infra import tables
from infra.functions import RESIZE

BUCKET: Final = "thumbstat-uploads"
QUEUE: Final = "thumbstat-uploads"
DEAD_LETTER_QUEUE: Final = "thumbstat-uploads-dlq"
SOURCE_PREFIX: Final = RESIZE.environment[resize_settings.SOURCE_PREFIX]
THUMBNAIL_PREFIX: Final = RESIZE.environment[resize_settings.THUMBNAIL_PREFIX]
TABLES: Final = (tables.IMAGE_INDEX, tables.READINGS)
# A failed message goes to the dead-letter queue after five receives, as deployed.
MAX_RECEIVE_COUNT: Final = 5
# Created objects are rendered; removals (deletes, delete markers, a lifecycle rule's
# expirations) have what is current shown: the template notifies the same events.
NOTIFIED_EVENTS: Final = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*")


@dataclass
class Resources:
    bucket: str
    queue_url: str
    index_table: str
    readings_table: str


@cache
def visibility_timeout_s() -> int:
    """The upload queue's visibility timeout as the deploy template sets it for its default
    ResizeTimeout (its QueueVisibility mapping: six times), read from the template itself."""
    from cfnlint.decode import cfn_yaml  # the template's YAML (!Ref tags), as tests/infra reads it

    from infra.deploy import TEMPLATE

    template = cfn_yaml.load(str(TEMPLATE))
    timeout = str(template["Parameters"][RESIZE.timeout_parameter]["Default"])
    return int(template["Mappings"]["QueueVisibility"][timeout]["Seconds"])


def queue_attributes(dead_letter_arn: str) -> dict[Any, str]:
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    return {
        "VisibilityTimeout": str(visibility_timeout_s()),
        "RedrivePolicy": json.dumps(redrive, separators=(",", ":")),
    }


def notification(queue_arn: str) -> Any:
    """The bucket's notification configuration: uploads under the source prefix -> the queue."""
    return {
        "QueueConfigurations": [
            {
                "QueueArn": queue_arn,
                "Events": list(NOTIFIED_EVENTS),
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": SOURCE_PREFIX}]}},
            }
        ]
    }


def create_resources() -> Resources:
    """Create (or find) the bucket, its notification queue and both tables."""
    dynamodb, sqs, s3 = aws.dynamodb(), clients.sqs(), aws.s3()
    for definition in TABLES:
        with suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(**tables.create_table_request(definition))
    dead_letter_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(
        QueueUrl=dead_letter_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=QUEUE, Attributes=queue_attributes(dead_letter_arn))[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    with suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration=notification(queue_arn),
    )
    return Resources(
        BUCKET, queue_url, str(tables.IMAGE_INDEX["TableName"]), str(tables.READINGS["TableName"])
    )


# Placeholders the hook fills in at run time, with ARNs only LocalStack knows.
_DLQ_ARN: Final = "@DLQ_ARN@"
_QUEUE_ARN: Final = "@QUEUE_ARN@"


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# What LocalStack's init-hook documentation asks of a hook using the plain `aws` CLI: credentials
# (any; "test" maps to account 000000000000) and a region. The endpoint is LocalStack's own
# gateway inside its container; AWS_ENDPOINT_URL overrides it (devstack.localstack sets it when
# LocalStack listens elsewhere).
_HOOK_ENVIRONMENT: Final = (
    'export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"'
    ' AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"'
    ' AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"'
)
HOOK_ENDPOINT: Final = "http://localhost:4566"


def ready_hook() -> str:
    """The LocalStack ready hook creating what ``create_resources`` creates, as a shell script.

    It calls the `aws` CLI with ``--endpoint-url`` rather than ``awslocal``, which prints a
    deprecation banner on LocalStack 4.14.
    """
    q = shlex.quote
    aws = 'aws --endpoint-url "$endpoint"'
    lines = [
        "#!/bin/bash",
        "# GENERATED by `make localstack-hook` (python -m devstack.resources) from",
        "# devstack/resources.py and infra/tables.py: edit those, not this file.",
        "# LocalStack ready hook (mounted into /etc/localstack/init/ready.d/): the resources the",
        "# embedded stack creates, under the same names.",
        "set -euo pipefail",
        "",
        _HOOK_ENVIRONMENT,
        f'endpoint="${{AWS_ENDPOINT_URL:-{HOOK_ENDPOINT}}}"',
        'fill() { sed -e "s|@DLQ_ARN@|${dlq_arn:-}|g" -e "s|@QUEUE_ARN@|${queue_arn:-}|g"; }',
        "",
    ]
    for definition in TABLES:
        request = _compact(tables.create_table_request(definition))
        lines.append(f"{aws} dynamodb create-table --cli-input-json {q(request)} >/dev/null")
    lines += [
        "",
        f"dlq_url=$({aws} sqs create-queue --queue-name {q(DEAD_LETTER_QUEUE)}"
        " --query QueueUrl --output text)",
        f'dlq_arn=$({aws} sqs get-queue-attributes --queue-url "$dlq_url"'
        " --attribute-names QueueArn --query Attributes.QueueArn --output text)",
        f"attributes=$(printf '%s' {q(_compact(queue_attributes(_DLQ_ARN)))} | fill)",
        f"queue_url=$({aws} sqs create-queue --queue-name {q(QUEUE)}"
        ' --attributes "$attributes" --query QueueUrl --output text)',
        f'queue_arn=$({aws} sqs get-queue-attributes --queue-url "$queue_url"'
        " --attribute-names QueueArn --query Attributes.QueueArn --output text)",
        "",
        f"{aws} s3api create-bucket --bucket {q(BUCKET)} >/dev/null",
        f"notification=$(printf '%s' {q(_compact(notification(_QUEUE_ARN)))} | fill)",
        f"{aws} s3api put-bucket-notification-configuration --bucket {q(BUCKET)}"
        ' --notification-configuration "$notification"',
        "",
        'echo "thumbstat: resources ready"',
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(ready_hook())
