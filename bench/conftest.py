"""Library versions in the benchmark JSON, so the report states what was measured."""

from __future__ import annotations

from typing import Any

from bench.versions import library_versions


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    machine_info["libraries"] = library_versions()
