"""The tooling's SQS client: the functions call no SQS (the queue invokes resize), so it lives
here, not in ``handlers.common.aws``. A new client per call, so it always follows the current
``AWS_ENDPOINT_URL`` and credentials; the callers make one each."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import botocore.session

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def sqs() -> SQSClient:
    return cast("SQSClient", botocore.session.get_session().create_client("sqs"))
