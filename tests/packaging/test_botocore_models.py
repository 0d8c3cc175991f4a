"""The trimmed botocore data (infra/botocore_models.py): the walk finds every operation the handlers
call, each image's data keeps them all, the trimmed models serialise each kept operation exactly as
botocore's whole ones do and resolve the same endpoints, and the handlers work on them against
moto over real HTTP."""

from __future__ import annotations

import ast
import datetime
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.serialize import create_serializer

from handlers import ingest, resize
from handlers.common import aws
from handlers.common.errors import DuplicateReading
from handlers.index import events as s3_events
from handlers.index import settings as resize_settings
from handlers.index.outcomes import Outcome
from handlers.readings import settings as ingest_settings
from handlers.readings import store as readings_store
from handlers.readings.schema import Reading
from infra import botocore_models, tables
from infra.functions import FUNCTIONS, RESIZE, Function
from tests import events
from tests.packaging import closure
from tests.packaging.test_images import stages

ROOT = Path(__file__).resolve().parents[2]
IDS = [function.name for function in FUNCTIONS]


def handlers_dir(tmp_path: Path, sources: dict[str, str]) -> Path:
    folder = tmp_path / "handlers"
    (folder / "common").mkdir(parents=True)
    (folder / "common" / "aws.py").write_text((ROOT / "handlers" / "common" / "aws.py").read_text())
    for name, text in sources.items():
        (folder / name).write_text(text)
    return folder


def test_the_walk_follows_every_way_a_client_is_reached(tmp_path: Path) -> None:
    folder = handlers_dir(
        tmp_path,
        {
            "direct.py": (
                "from handlers.common import aws\naws.s3().get_object(Bucket='b', Key='k')\n"
            ),
            "named.py": (
                "from handlers.common import aws\n"
                "def f():\n"
                "    client = aws.dynamodb()\n"
                "    try:\n"
                "        client.put_item(TableName='t', Item={})\n"
                "    except client.exceptions.ConditionalCheckFailedException:\n"
                "        pass\n"
                "    def inner():\n"
                "        return client.query(TableName='t')\n"
                "    s3, other = aws.s3(), 'x'\n"
                "    s3.delete_object(Bucket='b', Key='k')\n"
                "    other.upper()\n"
            ),
            "annotated.py": (
                "from __future__ import annotations\n"
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from mypy_boto3_dynamodb import DynamoDBClient\n"
                "def g(client: DynamoDBClient, s3: 'S3Client') -> None:\n"
                "    client.update_item(TableName='t', Key={})\n"
                "    s3.put_object(Bucket='b', Key='k')\n"
                "def h(client):\n"
                "    client.not_a_client_call()\n"
            ),
            "imported.py": (
                "from handlers.common.aws import s3\ns3().head_object(Bucket='b', Key='k')\n"
            ),
            "chained.py": (
                "from handlers.common import aws\n"
                "row = aws.dynamodb()\\\n    .get_item(TableName='t')\n"
            ),
        },
    )
    found = botocore_models.used(folder)
    assert {service: sorted(uses.methods) for service, uses in found.items()} == {
        "dynamodb": ["get_item", "put_item", "query", "update_item"],
        "s3": ["delete_object", "get_object", "head_object", "put_object"],
    }
    assert found["dynamodb"].exceptions == {"ConditionalCheckFailedException"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("aws.s3().get_paginator('list_objects_v2')", "paginator"),
        ("aws.s3().get_objekt(Bucket='b')", "no operation for get_objekt"),
        ("errors = aws.dynamodb().exceptions", "exceptions used whole"),
        ("aws.dynamodb().exceptions.NoSuchThingException", "no error shape"),
    ],
    ids=["paginator", "unknown-operation", "exceptions-whole", "unknown-exception"],
)
def test_the_generator_refuses_what_it_cannot_keep(
    tmp_path: Path, source: str, message: str
) -> None:
    folder = handlers_dir(tmp_path, {"user.py": f"from handlers.common import aws\n{source}\n"})
    with pytest.raises(botocore_models.Unfollowable, match=message):
        botocore_models.generate(folder, tmp_path / "out")


def closure_dir(function: Function, tmp_path: Path) -> Path:
    """The function's handlers/ as its image holds it: its import closure only."""
    for name in closure.shipped_files(function.module):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path / closure.PACKAGE


@pytest.fixture(scope="module")
def image_data(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Function], Path]:
    """The trimmed data as the function's Dockerfile generates it: from its handler closure."""
    made: dict[str, Path] = {}

    def get(function: Function) -> Path:
        if function.name not in made:
            work = tmp_path_factory.mktemp(function.name)
            out = work / "botocore-data"
            botocore_models.generate(closure_dir(function, work / "image"), out)
            made[function.name] = out
        return made[function.name]

    return get


def trimmed_loader(data: Path) -> Loader:
    """A loader searching ``data`` first, then botocore's own data, as AWS_DATA_PATH does."""
    return Loader(extra_search_paths=[str(data)])


def whole_loader() -> Loader:
    return Loader(extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False)


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_each_image_keeps_every_operation_its_handler_calls(
    function: Function, image_data: Callable[[Function], Path], tmp_path: Path
) -> None:
    used = botocore_models.used(closure_dir(function, tmp_path))
    assert used, f"{function.name} calls no AWS operation?"
    loader = trimmed_loader(image_data(function))
    for service, uses in used.items():
        model = loader.load_service_model(service, "service-2")
        methods = botocore_models.operation_names(model)
        assert uses.methods <= set(methods), f"{service}: {uses.methods - set(methods)} missing"
        assert uses.exceptions <= {
            name for name, shape in model["shapes"].items() if shape.get("exception")
        }
        whole = whole_loader().load_service_model(service, "service-2")
        assert len(model["operations"]) < len(whole["operations"])  # it is trimmed


def test_the_operations_found_are_the_ones_the_handlers_call() -> None:
    # The whole package, as the embedded stack generates it: a readable statement of the use.
    found = botocore_models.used()
    assert {service: sorted(uses.methods) for service, uses in found.items()} == {
        "dynamodb": ["get_item", "put_item", "query", "transact_write_items", "update_item"],
        "s3": ["delete_object", "get_object", "head_object", "put_object"],
    }


def test_what_botocore_calls_on_a_client_by_itself_is_kept() -> None:
    """botocore's own modules calling operations on a client they hold (``self._client.x()``):
    every one that is an operation of a trimmed service must be kept (IMPLIED)."""
    called: set[str] = set()
    for path in Path(botocore.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "_client"
            ):
                called.add(node.func.attr)
    assert "head_bucket" in called  # the walk sees them at all
    for service in botocore_models.used():
        model = whole_loader().load_service_model(service, "service-2")
        names = botocore_models.operation_names(model)
        wanted = {names[method] for method in called if method in names}
        assert wanted <= set(botocore_models.IMPLIED.get(service, ())), service


def _value(shape: Any, depth: int = 0) -> Any:
    """A value for ``shape`` with every member filled in, down to a few levels."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return {}
        return {name: _value(member, depth + 1) for name, member in shape.members.items()}
    if kind == "list":
        return [] if depth > 3 else [_value(shape.member, depth + 1)]
    if kind == "map":
        return {} if depth > 3 else {"k": _value(shape.value, depth + 1)}
    if kind == "string":
        enum = shape.metadata.get("enum")
        return enum[0] if enum else "x" * max(1, int(shape.metadata.get("min", 1)))
    if kind in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    if kind == "blob":
        return b"x"
    raise AssertionError(f"no value for {kind}")


def _reachable(model: dict[str, Any], operation: str) -> set[str]:
    spec = model["operations"][operation]
    pending = [spec[key]["shape"] for key in ("input", "output") if key in spec]
    pending += [error["shape"] for error in spec.get("errors", [])]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(botocore_models._shape_refs(model["shapes"][name]))
    return seen


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_the_trimmed_models_hold_every_kept_operation_as_the_whole_ones(
    function: Function, image_data: Callable[[Function], Path]
) -> None:
    """Each kept operation and every shape it reaches are botocore's, documentation aside, and
    serialise a request with every member filled in to the same bytes."""
    data = image_data(function)
    for service, kept in botocore_models.read_manifest(data)["services"].items():
        ours = trimmed_loader(data).load_service_model(service, "service-2")
        theirs = whole_loader().load_service_model(service, "service-2")
        assert ours["metadata"] == theirs["metadata"]
        assert sorted(ours["operations"]) == kept["operations"]
        trimmed, whole = ServiceModel(ours, service), ServiceModel(theirs, service)
        serializer = create_serializer(whole.resolved_protocol, include_validation=False)
        for name in kept["operations"]:
            assert ours["operations"][name] == botocore_models._undocumented(
                theirs["operations"][name]
            )
            for shape in _reachable(theirs, name):
                assert ours["shapes"][shape] == botocore_models._undocumented(
                    theirs["shapes"][shape]
                ), f"{service} {shape}"
            model = whole.operation_model(name)
            params = _value(model.input_shape) if model.input_shape else {}
            assert serializer.serialize_to_request(
                params, trimmed.operation_model(name)
            ) == serializer.serialize_to_request(params, model), f"{service} {name}"


class _Raw:
    """An empty answer's body."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield from ()

    def read(self, *_: Any) -> bytes:
        return b""


def _capture(client: Any, sent: list[Any]) -> None:
    """Keep the requests ``client`` would send in ``sent``, answered at once without a network."""

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, HTTPHeaders(), _Raw())

    client.meta.events.register("before-send", answer)


def _sent(request: Any) -> tuple[Any, ...]:
    body = request.body if isinstance(request.body, bytes | str | None) else type(request.body)
    headers = sorted(k for k in request.headers if k.lower() not in ("x-amz-date",))
    return request.method, request.url, body, headers, request.context.get("signing")


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1", "ap-southeast-5"]
)
def test_the_trimmed_clients_send_what_the_whole_ones_send(
    region: str, image_data: Callable[[Function], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same URL, method, headers, body and signing in every partition: only service-2 is
    trimmed, so endpoint resolution is botocore's own."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DATA_PATH"):
        monkeypatch.delenv(name, raising=False)
    sent: dict[str, list[Any]] = {}
    for label, data_path in (("whole", None), ("trimmed", str(image_data(RESIZE)))):
        session = botocore.session.get_session()
        if data_path:
            session.set_config_variable("data_path", data_path)
        s3: Any = session.create_client("s3", region_name=region, config=aws._config())
        dynamodb: Any = session.create_client("dynamodb", region_name=region, config=aws._config())
        requests: list[Any] = []
        _capture(s3, requests)
        _capture(dynamodb, requests)
        s3.get_object(Bucket="uploads", Key="uploads/a b.jpg", IfMatch="e")
        s3.put_object(Bucket="uploads", Key="thumbnails/a.jpg", Body=b"x", ContentType="image/jpeg")
        s3.delete_object(Bucket="uploads", Key="thumbnails/a.jpg", IfMatch="e")
        dynamodb.get_item(TableName="t", Key={"id": {"S": "k"}}, ConsistentRead=True)
        sent[label] = [_sent(request) for request in requests]
        if data_path:  # the trimmed data was used
            assert len(s3.meta.service_model.operation_names) < 10
    assert sent["trimmed"] == sent["whole"]


def test_the_dockerfiles_generate_the_data_and_point_botocore_at_it() -> None:
    for function in FUNCTIONS:
        found = stages(function.dockerfile)
        assert any(
            "botocore_models.py /opt/function/handlers " + botocore_models.IMAGE_DATA_PATH in line
            for line in found["build"]
        ), function.dockerfile
        assert f"ENV AWS_DATA_PATH={botocore_models.IMAGE_DATA_PATH}" in found["base"]


def test_the_generator_runs_as_a_file_with_botocore_alone(tmp_path: Path) -> None:
    """As the build stage runs it: a copied file, no project on the path."""
    import subprocess
    import sys

    script = tmp_path / "botocore_models.py"
    shutil.copy2(ROOT / "infra" / "botocore_models.py", script)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-S", str(script), str(ROOT / "handlers"), str(out)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(botocore.__file__).parents[1])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert set(botocore_models.read_manifest(out)["services"]) == {"s3", "dynamodb"}


# --- the handlers on the trimmed data, against moto over HTTP ------------------------------------
def test_the_handlers_work_on_the_trimmed_data(
    aws_env: str,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
    read_image: Callable[[str], bytes],
) -> None:
    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    bucket, index, readings = f"uploads-{unique}", f"image_metadata-{unique}", f"readings-{unique}"
    s3.create_bucket(Bucket=bucket)
    dynamodb.create_table(**tables.create_table_request(tables.IMAGE_INDEX, index))
    dynamodb.create_table(**tables.create_table_request(tables.READINGS, readings))
    monkeypatch.setenv(resize_settings.INDEX_TABLE, index)
    monkeypatch.setenv(ingest_settings.READINGS_TABLE, readings)
    resize.settings.cache_clear()
    ingest.settings.cache_clear()
    key = "uploads/trimmed.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=read_image("flowers.jpeg"))
    head = s3.head_object(Bucket=bucket, Key=key)
    created = events.s3_record(
        bucket, key, etag=head["ETag"].strip('"'), size=head["ContentLength"], sequencer="1"
    )
    data = botocore_models.ensure_cached()
    monkeypatch.setenv("AWS_DATA_PATH", str(data))
    aws.clear()
    try:
        kept = botocore_models.read_manifest(data)["services"]
        assert sorted(aws.s3().meta.service_model.operation_names) == kept["s3"]["operations"]
        # GetItem, GetObject, PutObject, PutItem
        assert resize.handler(events.sqs_event(events.s3_event(created))) == {
            "batchItemFailures": []
        }
        thumbnail = "thumbnails/200/trimmed.jpg.jpg"
        assert s3.head_object(Bucket=bucket, Key=thumbnail)["ContentType"] == "image/jpeg"
        # UpdateItem, DeleteObject
        s3.delete_object(Bucket=bucket, Key=key)
        removed = events.s3_record(bucket, key, etag="", size=0, sequencer="2")
        removed["eventName"] = "ObjectRemoved:Delete"
        del removed["s3"]["object"]["size"], removed["s3"]["object"]["eTag"]
        (event,) = s3_events.object_events(events.s3_event(removed))
        assert resize.process(event) is Outcome.DELETED
        assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="thumbnails/")
        # PutItem with its failed condition (client.exceptions), Query
        reading = Reading("2026-12-01T10:00:00", True, 65.0, 64)
        assert readings_store.put_reading(readings, reading) is True
        assert readings_store.put_reading(readings, reading) is False
        with pytest.raises(DuplicateReading):
            readings_store.put_reading(readings, Reading("2026-12-01T10:00:00", False, 60.0, 64))
        assert list(readings_store.day_readings(readings, "2026-12-01")) == [reading]
        # TransactWriteItems, its cancellation with the held item (client.exceptions)
        later = Reading("2026-12-01T10:05:00", False, 60.0, 64)
        result = readings_store.put_batch(readings, [reading, later])
        assert (result.stored, result.duplicates) == ([1], [0])
    finally:
        aws.clear()
        resize.settings.cache_clear()
        ingest.settings.cache_clear()


def test_the_embedded_stack_runs_the_functions_on_the_trimmed_data() -> None:
    # As deployed: its function processes (awslambdaric, tests/e2e) load what the images load.
    from devstack.stack import embedded

    with embedded() as stack:
        for function in stack.functions.values():
            assert function.environment["AWS_DATA_PATH"] == str(botocore_models.ensure_cached())
