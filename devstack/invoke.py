"""Local invoke with your own event, the two ways Lambda developers already know.

The Runtime Interface Emulator's endpoint, one per function while ``make up`` runs (the ports are
printed at start; the REPORT lines appear in ``make up``'s output):

    curl -d @tests/events/function-url-get.json \\
        http://127.0.0.1:9001/2015-03-31/functions/function/invocations

One invocation with an event file, as ``sam local invoke -e`` does it: a fresh execution
environment (so a cold start), the answer on stdout, then the REPORT line; the function's own log
goes to stderr. The exit status is 1 when the function failed.

    python -m devstack.invoke resize tests/events/s3-object-created.json \\
        --endpoint http://127.0.0.1:4566
    make invoke FUNCTION=resize EVENT=tests/events/s3-object-created.json ENDPOINT=...

Without ``--endpoint`` the function's AWS calls go where your environment sends them
(``AWS_ENDPOINT_URL``, your credentials), as with ``sam local invoke``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any, Final

from devstack.endpoints import EndpointUnreachable, pointed_at, require_reachable
from devstack.function_url import serve_in_thread
from devstack.runtime import FunctionProcess, InvocationFailed, Report
from infra.functions import BY_NAME

ROOT: Final = Path(__file__).resolve().parents[1]
PATH: Final = "/2015-03-31/functions/function/invocations"

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


def _handler_class(invoke: Invoke) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path.split("?")[0] != PATH:
                return self._answer(404, {"errorMessage": f"no route {self.path}; POST {PATH}"})
            try:
                event = json.loads(body) if body.strip() else {}
            except ValueError as exc:
                return self._answer(
                    400,
                    {"errorType": "InvalidRequestContentException", "errorMessage": str(exc)},
                )
            try:
                answer, _ = invoke(event)
            except InvocationFailed as failure:
                # As Lambda's Invoke API: 200, the error document, and a header saying so.
                return self._answer(
                    200, error_document(failure), {"X-Amz-Function-Error": "Unhandled"}
                )
            self._answer(200, answer)

        def _answer(self, status: int, answer: Any, headers: Mapping[str, str] = {}) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def invocations(invoke: Invoke, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``invoke`` as the RIE's invoke endpoint; yields the full invoke URL."""
    with serve_in_thread(_handler_class(invoke), host, port) as base:
        yield base + PATH


def invoke_once(
    function: str, event: Any, *, log: IO[bytes] | None = None
) -> tuple[Any, Report | None, bool]:
    """Invoke ``function`` once in a fresh execution environment under awslambdaric.

    Returns the answer (or the error document), the REPORT figures and whether it failed.
    """
    definition = BY_NAME[function]
    process = FunctionProcess(
        f"thumbstat-{definition.name}",
        definition.handler,
        memory_mb=definition.memory_mb,
        timeout_s=definition.timeout_s,
        environment=dict(definition.environment),
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
        answer, report, failed = invoke_once(args.function, event, log=sys.stderr.buffer)
    sys.stdout.write(json.dumps(answer, indent=2) + "\n")
    if report is not None:
        sys.stdout.write(report.line() + "\n")
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
