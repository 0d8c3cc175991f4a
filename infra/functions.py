"""The two functions, defined once: everything that builds, runs, deploys or checks them reads this.

The deploy tool takes the Dockerfiles, ECR repositories, template parameters and outputs from
here; the embedded stack and the image tests take the handlers, memory sizes and environments; the
CloudFormation template and docker-compose.yml, which must stay static files, are checked
structurally against it by the tests (tests/infra, tests/packaging).

Not shipped in either image: the functions themselves read only their environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from handlers.imaging import renditions
from handlers.index import settings as resize_settings
from handlers.readings import settings as ingest_settings
from infra import tables


@dataclass(frozen=True)
class Function:
    name: str  # resize or ingest
    module: str  # the handler's module: its import closure is what the image copies
    memory_mb: int  # the template's default MemorySize; the local stacks run at the same size
    timeout_s: int  # the template's default Timeout
    # What the function is configured with: the local stacks set these values, the template sets
    # the same names (from its parameters and resources).
    environment: Mapping[str, str]
    variables: tuple[str, ...]  # every variable the function reads (its settings module)
    needs_pillow: bool

    @property
    def handler(self) -> str:
        return f"{self.module}.handler"

    @property
    def dockerfile(self) -> str:
        return f"Dockerfile.{self.name}"

    @property
    def requirements(self) -> str:
        return f"requirements/{self.name}.txt"

    @property
    def local_name(self) -> str:
        """Its FunctionName in the local stacks (deployed, CloudFormation names it)."""
        return f"thumbstat-{self.name}"

    @property
    def repository(self) -> str:
        """The ECR repository (and the template's default for <Name>RepositoryName)."""
        return f"thumbstat-{self.name}"

    @property
    def logical_id(self) -> str:
        """The template's AWS::Lambda::Function resource."""
        return f"{self.name.capitalize()}Function"

    @property
    def image_parameter(self) -> str:
        """The template parameter taking the image URI."""
        return f"{self.name.capitalize()}ImageUri"

    @property
    def output(self) -> str:
        """The stack output naming the deployed function."""
        return f"{self.name.capitalize()}FunctionName"

    @property
    def repository_parameter(self) -> str:
        return f"{self.name.capitalize()}RepositoryName"

    @property
    def memory_parameter(self) -> str:
        return f"{self.name.capitalize()}MemorySize"

    @property
    def timeout_parameter(self) -> str:
        return f"{self.name.capitalize()}Timeout"


_RESIZE_DEFAULTS: Final = resize_settings.ResizeSettings()

RESIZE: Final = Function(
    name="resize",
    module="handlers.resize",
    # A tuned 24 MP JPEG thumbnail peaks near 45 MB of RSS and a 4K PNG near 70 MB; the pixel
    # budget derived from 256 MB (24 MP) leaves room for large PNGs.
    memory_mb=256,
    timeout_s=30,
    environment=MappingProxyType(
        {
            resize_settings.SOURCE_PREFIX: _RESIZE_DEFAULTS.source_prefix,
            resize_settings.THUMBNAIL_PREFIX: _RESIZE_DEFAULTS.thumbnail_prefix,
            resize_settings.RENDITIONS: renditions.render(_RESIZE_DEFAULTS.renditions),
            resize_settings.INDEX_TABLE: str(tables.IMAGE_INDEX["TableName"]),
        }
    ),
    variables=resize_settings.VARIABLES,
    needs_pillow=True,
)

INGEST: Final = Function(
    name="ingest",
    module="handlers.ingest",
    memory_mb=128,
    timeout_s=15,
    environment=MappingProxyType(
        {ingest_settings.READINGS_TABLE: str(tables.READINGS["TableName"])}
    ),
    variables=ingest_settings.VARIABLES,
    needs_pillow=False,
)

FUNCTIONS: Final = (RESIZE, INGEST)
BY_NAME: Final = MappingProxyType({function.name: function for function in FUNCTIONS})
