"""The stack outputs of infra/template.yaml that the tooling reads (deploy, reconcile), defined
once; tests/infra checks the template declares each. The functions' own outputs are
``infra.functions.Function.output``."""

from __future__ import annotations

from typing import Final

BUCKET: Final = "BucketName"
INDEX_TABLE: Final = "IndexTableName"
READINGS_TABLE: Final = "ReadingsTableName"
UPLOAD_QUEUE: Final = "UploadQueueUrl"
