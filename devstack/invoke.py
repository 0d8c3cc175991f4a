"""Local invoke with your own event, the two ways Lambda developers already know.

The Runtime Interface Emulator's endpoint, one per function while make up runs (the ports are
printed at start; the REPORT lines appear in make up's output). Each also answers Lambda's
Invoke API by function name (thumbstat-resize, thumbstat-ingest, or their ARNs), as the AWS CLI
calls it:

    curl -d @tests/events/function-url-get.json \\
        http://127.0.0.1:9001/2015-03-31/functions/function/invocations
    aws lambda invoke --endpoint-url http://127.0.0.1:9001 --function-name thumbstat-ingest \\
        --payload fileb://tests/events/function-url-get.json answer.json

One invocation with an event file, as sam local invoke -e does it: a fresh execution
environment (so a cold start), the answer on stdout, then the REPORT line; the function's own log
goes to stderr. The exit status is 1 when the function failed.

    python -m devstack.invoke resize tests/events/s3-object-created.json \\
        --endpoint http://127.0.0.1:4566
    make invoke FUNCTION=resize EVENT=tests/events/s3-object-created.json ENDPOINT=...

Without --endpoint the function's AWS calls go where your environment sends them
(AWS_ENDPOINT_URL, your credentials), as with sam local invoke.

A resize event never touches the index row of a real upload: each S3 record is pointed at a key of
its own under SOURCE_PREFIX + "invoked/" (a copy of the object, when it exists) with a fresh
sequencer, and what was written there is printed. A hand-written event's sequencer could otherwise
order every later real event of that key as stale. --in-place invokes the event as it is. The
function reads its variables (RENDITIONS, ...) from your environment where set, else the defaults
the template deploys.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import parse_qs, quote_plus, unquote, unquote_plus, urlsplit

from botocore.exceptions import ClientError

from devstack.endpoints import EndpointUnreachable, pointed_at, require_reachable
from devstack.function_url import serve_in_thread
from devstack.resources import SOURCE_PREFIX
from devstack.runtime import FunctionProcess, InvocationFailed, Report
from handlers.common import aws
from handlers.index import settings as resize_settings
from infra.functions import BY_NAME

ROOT: Final = Path(__file__).resolve().parents[1]
# The RIE's one name for the function it runs; Lambda's Invoke API puts a FunctionName there.
RIE_NAME: Final = "function"
PATH: Final = f"/2015-03-31/functions/{RIE_NAME}/invocations"
_INVOKE_PATH: Final = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")

Invoke = Callable[[Any], tuple[Any, Report]]

# The errorType Lambda reports when the runtime, not the handler, failed.
_RUNTIME_ERRORS: Final = {
    "timeout": "Sandbox.Timedout",
    "crash": "Runtime.ExitError",
    "init": "Runtime.InitError",
    "unreachable": "Runtime.Unavailable",
}


def error_document(failure: InvocationFailed) -> dict[str, Any]:
    """Lambda's answer to a failed invocation: the error the function reported (handler and init
    errors carry their own errorType), else the runtime's."""
    detail = failure.detail
    if isinstance(detail, dict) and "errorType" in detail:
        return dict(detail)
    return {
        "errorType": _RUNTIME_ERRORS.get(failure.kind, "Runtime.Unknown"),
        "errorMessage": str(detail),
    }


def function_name(name: str) -> str | None:
    """The function a FunctionName names: ``NAME``, ``ACCOUNT:function:NAME`` or its ARN, each
    unqualified or ``:$LATEST`` (the local stacks have no versions or aliases); None for another
    qualifier."""
    parts = name.split(":")
    if parts[0] == "arn":
        parts = parts[6:]  # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    elif len(parts) > 1 and parts[1] == "function":
        parts = parts[2:]  # ACCOUNT:function:NAME[:QUALIFIER]
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] != "$LATEST"):
        return None
    return parts[0]


def not_found(name: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Lambda's answer for a function it does not have (botocore reads the error type from the
    header: ResourceNotFoundException)."""
    return (
        404,
        {"Type": "User", "Message": f"Function not found: {name}"},
        {"x-amzn-ErrorType": "ResourceNotFoundException"},
    )


def _handler_class(routes: Mapping[str, Invoke]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            url = urlsplit(self.path)
            matched = _INVOKE_PATH.fullmatch(url.path)
            if matched is None:
                return self._answer(404, {"errorMessage": f"no route {self.path}; POST {PATH}"})
            requested = unquote(matched["name"])
            qualifier = parse_qs(url.query).get("Qualifier", ["$LATEST"])[0]
            name = function_name(requested) if qualifier == "$LATEST" else None
            invoke = routes.get(name) if name else None
            if invoke is None:
                return self._answer(*not_found(requested))
            try:
                event = json.loads(body) if body.strip() else {}
            except ValueError as exc:
                return self._answer(
                    400,
                    {"errorType": "InvalidRequestContentException", "errorMessage": str(exc)},
                )
            kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if kind == "DryRun":
                return self._answer(204, None)
            if kind == "Event":
                # Queued, as Lambda does: 202 now, the invocation (and its REPORT line) after.
                threading.Thread(target=_quietly, args=(invoke, event), daemon=True).start()
                return self._answer(202, None)
            try:
                answer, _ = invoke(event)
            except InvocationFailed as failure:
                # As Lambda's Invoke API: 200, the error document, and a header saying so.
                return self._answer(
                    200, error_document(failure), {"X-Amz-Function-Error": "Unhandled"}
                )
            self._answer(200, answer)

        def _answer(self, status: int, answer: Any, headers: Mapping[str, str] = {}) -> None:
            data = b"" if status in (202, 204) else json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            if status == 200:
                self.send_header("X-Amz-Executed-Version", "$LATEST")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _quietly(invoke: Invoke, event: Any) -> None:
    """An asynchronous invocation: its failure is the function's log and REPORT line."""
    try:
        invoke(event)
    except InvocationFailed as failure:
        logging.getLogger(__name__).warning("asynchronous invocation failed: %s", failure)


@contextmanager
def invocations(
    invoke: Invoke,
    host: str = "127.0.0.1",
    port: int = 0,
    functions: Mapping[str, Invoke] | None = None,
) -> Iterator[str]:
    """Serve ``invoke`` as the RIE's invoke endpoint, and ``functions`` (FunctionName -> invoke)
    as Lambda's Invoke API; yields the full RIE invoke URL."""
    routes = {**(functions or {}), RIE_NAME: invoke}
    with serve_in_thread(_handler_class(routes), host, port) as base:
        yield base + PATH


def invoke_once(
    function: str,
    event: Any,
    *,
    log: IO[bytes] | None = None,
    environment: Mapping[str, str] | None = None,
) -> tuple[Any, Report | None, bool]:
    """Invoke ``function`` once in a fresh execution environment under awslambdaric.

    Returns the answer (or the error document), the REPORT figures and whether it failed.
    """
    definition = BY_NAME[function]
    process = FunctionProcess(
        definition.local_name,
        definition.handler,
        memory_mb=definition.memory_mb,
        timeout_s=definition.timeout_s,
        environment=dict(environment or definition.environment),
        cwd=ROOT,
        log=log,
    )
    try:
        answer, report = process.invoke(event)
    except InvocationFailed as failure:
        return error_document(failure), failure.report, True
    finally:
        process.close()
    return answer, report, False


def isolated(event: Any) -> tuple[Any, list[str]]:
    """``event`` with each S3 record of a resize event pointed at a key of its own under
    ``SOURCE_PREFIX + "invoked/"``: a copy of the object where it exists (a removal's key is left
    empty), a fresh sequencer. Returns the event and what was done, one line each."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return event, []
    event, done = copy.deepcopy(event), []
    for record in event["Records"]:
        s3 = record.get("s3") if isinstance(record, dict) else None
        try:
            bucket, obj = s3["bucket"]["name"], s3["object"]  # type: ignore[index]
            source = unquote_plus(obj["key"])
        except (KeyError, TypeError):
            continue  # not an S3 record the function can read: it says so itself
        below = source.removeprefix(SOURCE_PREFIX)
        key = f"{SOURCE_PREFIX}invoked/{below}"
        obj.update(key=quote_plus(key, safe="/"), sequencer=f"{time.time_ns():X}")
        if str(record.get("eventName", "")).startswith("ObjectCreated"):
            done.append(_copy(bucket, source, key, obj))
        else:
            done.append(f"removal of s3://{bucket}/{source} pointed at s3://{bucket}/{key}")
    return event, done


def _copy(bucket: str, source: str, key: str, obj: dict[str, Any]) -> str:
    try:
        copied = aws.s3().copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": source}
        )
    except ClientError as exc:
        return f"s3://{bucket}/{source}: {exc.response['Error'].get('Code')}: nothing copied"
    obj["eTag"] = copied["CopyObjectResult"]["ETag"].strip('"')
    obj["size"] = aws.s3().head_object(Bucket=bucket, Key=key)["ContentLength"]
    return f"s3://{bucket}/{source} copied to s3://{bucket}/{key}, which the event now names"


def _environment(function: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The function's defaults, with each variable it reads taken from ``environ`` where set."""
    definition = BY_NAME[function]
    chosen = {name: environ[name] for name in definition.variables if environ.get(name)}
    return {**definition.environment, **chosen}


def _rows(event: Any, table: str) -> list[str]:
    """The rows in ``table`` of the keys an isolated resize event named, as they are now (on
    stderr, beside the function's log: stdout is the answer and the REPORT line, as with SAM)."""
    found = []
    for record in event["Records"]:
        key = unquote_plus(record["s3"]["object"]["key"])
        item = aws.dynamodb().get_item(TableName=table, Key={"id": {"S": key}}).get("Item")
        row = {name: next(iter(value.values())) for name, value in (item or {}).items()}
        found.append(
            f"row {key}: status={row.get('status', '-')}"
            f" thumbnail-path={row.get('thumbnail-path', '-')}"
        )
    return found


def _read_event(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    return json.loads(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("function", choices=sorted(BY_NAME))
    parser.add_argument("event", help="a JSON event file (- for stdin)")
    parser.add_argument(
        "--endpoint",
        help="where the function's AWS calls go, with local credentials"
        " (LocalStack, moto: e.g. http://127.0.0.1:4566)",
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="resize: invoke the event as it is, on the keys it names (their index rows included)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        event = _read_event(args.event)
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read the event {args.event}: {exc}")

    with ExitStack() as stack:
        if args.endpoint:
            try:
                require_reachable(args.endpoint)
            except EndpointUnreachable as exc:
                parser.error(str(exc))
            stack.enter_context(pointed_at(args.endpoint))
        done: list[str] = []
        if args.function == "resize" and not args.in_place:
            event, done = isolated(event)
        for line in done:
            sys.stderr.write(f"invoke: {line}\n")
        environment = _environment(args.function, os.environ)
        answer, report, failed = invoke_once(
            args.function, event, log=sys.stderr.buffer, environment=environment
        )
        rows = _rows(event, environment[resize_settings.INDEX_TABLE]) if done else []
    sys.stdout.write(json.dumps(answer, indent=2) + "\n")
    if report is not None:
        sys.stdout.write(report.line() + "\n")
    sys.stdout.flush()
    for line in rows:
        sys.stderr.write(f"invoke: {line}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
