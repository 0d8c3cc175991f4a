"""The embedded local stack: moto's server standing in for LocalStack, the resources the deploy
template creates (same names, same table definitions), and both functions under the real
awslambdaric behind the router.

Where Docker is present, ``docker compose up`` runs the same flow with LocalStack and the
function containers; ``infra/localstack/ready.sh`` creates the same resources there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from devstack.containers import Container
from devstack.router import Router
from devstack.runtime import FunctionProcess
from handlers import aws, tables

BUCKET: Final = "thumbstat-uploads"
QUEUE: Final = "thumbstat-uploads"
DEAD_LETTER_QUEUE: Final = "thumbstat-uploads-dlq"
SOURCE_PREFIX: Final = "uploads/"
THUMBNAIL_PREFIX: Final = "thumbnails/"
ROOT: Final = Path(__file__).resolve().parents[1]

# Memory sizes as deployed (infra/template.yaml defaults): Max Memory Used is read against them.
RESIZE_MEMORY_MB: Final = 256
INGEST_MEMORY_MB: Final = 128


# What each function is configured with, locally: the embedded stack and docker-compose.yml
# (checked by the tests) set the same values.
RESIZE_ENVIRONMENT: Final = {
    "SOURCE_PREFIX": SOURCE_PREFIX,
    "THUMBNAIL_PREFIX": THUMBNAIL_PREFIX,
    "INDEX_TABLE": str(tables.IMAGE_INDEX["TableName"]),
}
INGEST_ENVIRONMENT: Final = {"READINGS_TABLE": str(tables.READINGS["TableName"])}
FUNCTIONS: Final = {
    "resize": (RESIZE_MEMORY_MB, RESIZE_ENVIRONMENT),
    "ingest": (INGEST_MEMORY_MB, INGEST_ENVIRONMENT),
}


@dataclass
class Resources:
    bucket: str
    queue_url: str
    index_table: str
    readings_table: str


def create_resources() -> Resources:
    """Create (or find) the bucket, its notification queue and both tables."""
    dynamodb, sqs, s3 = aws.dynamodb(), aws.sqs(), aws.s3()
    for definition in (tables.IMAGE_INDEX, tables.READINGS):
        with suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(**tables.create_table_request(definition))
    dead_letter_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(
        QueueUrl=dead_letter_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=QUEUE,
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": f'{{"deadLetterTargetArn":"{dead_letter_arn}","maxReceiveCount":"5"}}',
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    with suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": SOURCE_PREFIX}]}
                    },
                }
            ],
        },
    )
    return Resources(
        BUCKET, queue_url, str(tables.IMAGE_INDEX["TableName"]), str(tables.READINGS["TableName"])
    )


@dataclass
class EmbeddedStack:
    endpoint: str  # moto's server
    function_url: str  # the ingest function's local Function URL
    resources: Resources
    router: Router
    functions: dict[str, FunctionProcess] = field(default_factory=dict)


LOCAL_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "thumbstat-local",
    "AWS_SECRET_ACCESS_KEY": "thumbstat-local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@contextmanager
def embedded(
    *,
    moto_port: int = 0,
    url_port: int = 0,
    log: IO[bytes] | None = None,
    images: Mapping[str, str] | None = None,
) -> Iterator[EmbeddedStack]:
    """Start everything; stop it all on exit. The process environment points at moto.

    ``images`` ({"resize": IMAGE, "ingest": IMAGE}) runs the functions as containers (podman)
    instead of processes of this checkout.
    """
    import logging

    from moto.server import ThreadedMotoServer  # a development dependency, only needed here

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per moto request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    with ExitStack() as stack:
        stack.callback(server.stop)
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        saved = dict(os.environ)

        def restore_environment() -> None:
            os.environ.clear()
            os.environ.update(saved)

        stack.callback(restore_environment)
        os.environ.update({**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        aws.clear()
        stack.callback(aws.clear)

        resources = create_resources()
        functions = {
            name: FunctionProcess(
                f"thumbstat-{name}",
                f"handlers.{name}.handler",
                memory_mb=memory_mb,
                environment=environment,
                cwd=ROOT,
                log=log,
                launcher=Container(images[name]) if images else None,
            )
            for name, (memory_mb, environment) in FUNCTIONS.items()
        }
        router = Router(functions)
        stack.callback(router.close)
        router.poll_queue(resources.queue_url, "resize")
        url = stack.enter_context(router.function_url("ingest", "127.0.0.1", url_port))
        yield EmbeddedStack(endpoint, url, resources, router, functions)
