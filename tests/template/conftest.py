"""Fixtures of the template tests: the SAM template and its transform, computed once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.template.cfn import load_sam_template, transform


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_sam_template()


@pytest.fixture(scope="session")
def transformed(sam_template: dict[str, Any]) -> dict[str, Any]:
    return transform(sam_template)
