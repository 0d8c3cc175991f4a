"""The local queue's visibility timeout is the deploy template's (in the default run)."""

from __future__ import annotations

import json
import re

from devstack import resources
from devstack.localstack.server import HOOK
from infra.functions import RESIZE
from tests.infra.conftest import load_template


def test_the_local_visibility_timeout_is_the_templates_for_its_default_resize_timeout() -> None:
    template = load_template()
    default = template["Parameters"][RESIZE.timeout_parameter]["Default"]
    mapped = template["Mappings"]["QueueVisibility"][str(default)]["Seconds"]
    assert resources.visibility_timeout_s() == mapped == 6 * default


def test_the_ready_hook_creates_the_queue_with_it() -> None:
    """The generated hook (tests/packaging checks it is current) carries the same value."""
    (attributes,) = re.findall(r"attributes=\$\(printf '%s' '([^']+)'", HOOK.read_text())
    assert json.loads(attributes)["VisibilityTimeout"] == str(resources.visibility_timeout_s())
