"""The local router: what AWS does around the two functions, on a laptop.

One component, two transports for reaching a function:

- FunctionProcess (embedded stack): the function runs under the real awslambdaric in a
  process started here, against this machine's own Runtime API;
- RieTransport (docker compose): the function runs in its container under the Lambda
  Runtime Interface Emulator, invoked through the RIE's invoke endpoint.

Either way the router polls the SQS queue that receives the bucket's notifications and invokes
resize with batches, as an event source mapping does, and serves a Function-URL-compatible HTTP
endpoint for ingest.

    python -m devstack.router --resize-url http://resize:8080 \\
        --ingest-url http://ingest:8080 --queue-name thumbstat-uploads --listen 0.0.0.0:8080 \\
        [--endpoint http://localstack:4566]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from functools import partial
from typing import Any, Protocol

from devstack import clients
from devstack.function_url import AUTH_TYPES, NONE, IamAuth, auth_for, serving
from devstack.runtime import InvocationFailed, Report

logger = logging.getLogger(__name__)


class Transport(Protocol):
    reports: list[Report]

    def invoke(self, event: Any) -> tuple[Any, Report]: ...

    def close(self) -> None: ...


class RieTransport:
    """A function container under the Runtime Interface Emulator."""

    def __init__(self, name: str, url: str, timeout_s: float = 60.0) -> None:
        self.name, self.timeout_s = name, timeout_s
        self.url = url.rstrip("/") + "/2015-03-31/functions/function/invocations"
        self.reports: list[Report] = []

    def invoke(self, event: Any) -> tuple[Any, Report]:
        request = urllib.request.Request(self.url, data=json.dumps(event).encode(), method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise InvocationFailed("unreachable", str(exc)) from exc
        # The RIE prints the REPORT line in the container's log; here only the round trip.
        report = Report(
            self.name,
            str(uuid.uuid4()),
            (time.perf_counter() - started) * 1000,
            memory_size_mb=0,
            max_memory_used_mb=0,
        )
        self.reports.append(report)
        answer = json.loads(body) if body else None
        if isinstance(answer, dict) and "errorType" in answer and "errorMessage" in answer:
            report.status = "error"
            raise InvocationFailed("error", answer, report)
        return answer, report

    def close(self) -> None:
        pass


class Router:
    def __init__(self, functions: Mapping[str, Transport]) -> None:
        self.functions = dict(functions)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def invoke(self, name: str, event: Any) -> tuple[Any, Report]:
        return self.functions[name].invoke(event)

    # --- SQS, as an event source mapping with ReportBatchItemFailures ------------------------
    def poll_queue(self, queue_url: str, function: str, batch_size: int = 10) -> None:
        """Poll in a background thread until ``close``."""
        thread = threading.Thread(
            target=self._poll,
            args=(queue_url, function, batch_size),
            name=f"sqs-{function}",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def _poll(self, queue_url: str, function: str, batch_size: int) -> None:
        sqs = clients.sqs()
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=batch_size,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                ).get("Messages", [])
                if messages:
                    self._deliver(sqs, queue_url, arn, function, messages)
            except Exception:  # the poller must outlive any one failure, as Lambda's does
                logger.exception("polling %s failed; retrying", queue_url)
                self._stop.wait(1)

    def _deliver(
        self, sqs: Any, queue_url: str, arn: str, function: str, messages: list[Any]
    ) -> None:
        region = arn.split(":")[3]
        event = {"Records": [sqs_record(m, arn, region) for m in messages]}
        try:
            answer, report = self.invoke(function, event)
        except InvocationFailed as exc:
            logger.warning(
                "%s failed (%s): %d messages return after the visibility timeout",
                function,
                exc.kind,
                len(messages),
            )
            return
        report.note = f"SQS batch of {len(messages)}"
        failed = {f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])}
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if m["MessageId"] not in failed
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)

    # --- Function URL -------------------------------------------------------------------------
    def function_url_answer(self, function: str, event: dict[str, Any]) -> Mapping[str, Any]:
        try:
            answer, report = self.invoke(function, event)
        except InvocationFailed as exc:
            logger.warning("%s failed behind its Function URL: %s", function, exc)
            return {
                "statusCode": 502,
                "headers": {"content-type": "application/json"},
                "body": json.dumps({"Message": "Internal Server Error"}),
            }
        http = event["requestContext"]["http"]
        report.note = f"{http['method']} {http['path']}"
        if isinstance(answer, dict) and "statusCode" in answer:
            return answer
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(answer),
        }

    @contextmanager
    def invoke_endpoint(
        self, function: str, host: str = "127.0.0.1", port: int = 0
    ) -> Iterator[str]:
        """``function``'s invoke endpoint, the RIE's path; it also answers Lambda's Invoke API
        for every function of the router by its name (``aws lambda invoke --function-name
        thumbstat-ingest``). Yields the RIE's invoke URL."""
        # Imported here: the compose router's image holds the router's modules, not these.
        from devstack.invoke import invocations
        from infra.functions import BY_NAME

        by_name = {BY_NAME[name].local_name: partial(self.invoke, name) for name in self.functions}
        with invocations(partial(self.invoke, function), host, port, by_name) as url:
            yield url

    @contextmanager
    def function_url(
        self, function: str, host: str = "127.0.0.1", port: int = 0, auth: IamAuth | None = None
    ) -> Iterator[str]:
        """``function`` behind a Function URL: AWS_IAM auth with ``auth``, else NONE."""
        answer = partial(self.function_url_answer, function)
        with serving(answer, host, port, auth) as url:
            yield url

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        for transport in self.functions.values():
            transport.close()


def sqs_record(message: Mapping[str, Any], arn: str, region: str) -> dict[str, Any]:
    """The record Lambda's event source mapping builds from a received SQS message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody")
        or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resize-url", required=True, help="the resize container's RIE")
    parser.add_argument("--ingest-url", required=True, help="the ingest container's RIE")
    parser.add_argument("--queue-name", default="thumbstat-uploads")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="Function URL address")
    parser.add_argument(
        "--auth-type",
        choices=AUTH_TYPES,
        default=NONE,
        help="the Function URL's auth: AWS_IAM checks SigV4 against this process's"
        " AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and region; NONE (default here, as the"
        " compose file's unsigned commands need) lets any request through",
    )
    parser.add_argument(
        "--endpoint",
        help="where the queue is (LocalStack, moto); default: AWS_ENDPOINT_URL, else AWS itself",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.endpoint:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint  # botocore reads it; no client exists yet

    host, port = args.listen.rsplit(":", 1)
    router = Router(
        {
            "resize": RieTransport("resize", args.resize_url),
            "ingest": RieTransport("ingest", args.ingest_url),
        }
    )
    queue_url = clients.sqs().get_queue_url(QueueName=args.queue_name)["QueueUrl"]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ExitStack() as stack:
        stack.callback(router.close)
        router.poll_queue(queue_url, "resize")
        auth = auth_for(args.auth_type, os.environ)
        url = stack.enter_context(router.function_url("ingest", host, int(port), auth))
        logger.info("ingest Function URL on %s; resize polls %s", url, queue_url)
        with suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
