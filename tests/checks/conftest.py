"""`run_check`: evaluate a check written as in a plan, with a fresh set of run resources that is
closed afterwards (an unclosed client or engine is a ResourceWarning, hence an error)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from pydantic import TypeAdapter
from ruamel.yaml import YAML

from golive.actions.base import RunResources
from golive.checks import CheckOutcome, evaluate
from golive.plan.models import Check
from golive.plan.template import render

CHECK: TypeAdapter[Check] = TypeAdapter(Check)
RunCheck = Callable[..., CheckOutcome]


def parse_check(text: str) -> Check:
    return CHECK.validate_python(YAML(typ="safe").load(text))


@pytest.fixture
def run_check() -> RunCheck:
    """run_check('{http: "https://x/health", expect: 200}', vars={...}, secrets={...}, **evaluate_options)"""

    def run(
        text: str,
        *,
        vars: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        **options: Any,
    ) -> CheckOutcome:
        check = parse_check(text)
        hidden = dict(secrets or {})

        def fill(template: str) -> str:
            return render(template, values={}, namespaces={"vars": vars or {}, "secrets": hidden})

        def redact(line: str) -> str:
            for value in hidden.values():
                line = line.replace(value, "••••••")
            return line

        async def main() -> CheckOutcome:
            resources = RunResources()
            try:
                return await evaluate(
                    check, render=fill, redact=redact, resources=resources, **options
                )
            finally:
                await resources.aclose()

        return asyncio.run(main())

    return run
