"""`golive check` for the steps that drive the team's tools: fabric, ansible, docker.

The files a step names are looked at without running them: a fabfile's tasks are found by
reading its source (the functions decorated `@task`), not by importing it, because importing a
fabfile runs its code, and `check` must be safe to run on any plan. A task made some other way
(a `Collection` built by hand, a task imported from another module) is not seen: check says so
and the step still runs. A name holding a template is checked when the step runs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive.plan.diagnostics import Diagnostic
from golive.plan.template import has_template

if TYPE_CHECKING:
    from golive.plan.lint import Context

# The grammar of docker's image references (github.com/distribution/reference).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
# a first part is a registry only with a dot, a port, or as localhost (else it is a name)
_DOMAIN = (
    rf"(?:localhost(?::[0-9]+)?|{_LABEL}(?:\.{_LABEL})+(?::[0-9]+)?|{_LABEL}:[0-9]+"
    r"|\[[0-9a-fA-F:]+\](?::[0-9]+)?)"
)
IMAGE_REFERENCE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
MAX_NAME = 255


def image_problem(reference: str) -> str | None:
    """None for a valid image reference, else what is wrong with it."""
    if not reference or reference != reference.strip():
        return "is empty or has spaces around it"
    if IMAGE_REFERENCE.match(reference) is None:
        if reference.lower() != reference and IMAGE_REFERENCE.match(reference.lower()):
            return "has upper-case letters in its name (repository names are lower-case)"
        return "is not an image reference (registry/name:tag or name@sha256:DIGEST)"
    if len(reference.split("@")[0].rsplit(":", 1)[0]) > MAX_NAME:
        return f"has a name longer than {MAX_NAME} characters"
    return None


def fabfile_tasks(source: str) -> set[str] | None:
    """The task names of a fabfile's source (a function `deploy_app` also answers to
    `deploy-app`), or None when the source does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            word = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if word == "task":
                names.update({node.name, node.name.replace("_", "-")})
                if isinstance(decorator, ast.Call):
                    for keyword in decorator.keywords:
                        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                            names.add(str(keyword.value.value))
    return names


def _where(ctx: Context, step: Any, name: str) -> Path | None:
    """The file `name` of a step, relative to the plan's directory (and the step's cwd)."""
    if ctx.directory is None or has_template(name) or (step.cwd and has_template(step.cwd)):
        return None
    base = ctx.directory / step.cwd if step.cwd else ctx.directory
    return (base / name).resolve()


def tool_step_findings(ctx: Context) -> Iterator[Diagnostic]:
    for i, step in enumerate(ctx.plan.steps):
        if step.fabric is not None:
            yield from _fabric(ctx, i, step)
        elif step.ansible is not None:
            yield from _ansible(ctx, i, step)
        elif step.docker is not None:
            yield from _docker(ctx, i, step)


def _fabric(ctx: Context, i: int, step: Any) -> Iterator[Diagnostic]:
    if step.on is None:
        yield ctx.error(
            ("steps", i, "fabric"),
            "a fabric step runs on a host group",
            "add on: GROUP",
            rule="fabric-without-hosts",
        )
    path = _where(ctx, step, step.fabric.fabfile)
    if path is None:
        return
    if not path.is_file():
        yield ctx.error(
            ("steps", i, "fabric", "fabfile"),
            f"no fabfile at {path}",
            "give the fabfile's path relative to the plan in fabric.fabfile",
            rule="fabfile-missing",
        )
        return
    tasks = fabfile_tasks(path.read_text(encoding="utf-8", errors="replace"))
    if tasks is None:
        yield ctx.error(
            ("steps", i, "fabric", "fabfile"),
            f"{path.name} is not valid Python",
            "fix the fabfile, then check again",
            rule="fabfile-invalid",
        )
        return
    wanted: list[tuple[tuple[str | int, ...], str]] = [
        (("steps", i, "fabric", "task"), step.fabric.task)
    ]
    if step.undo and not has_template(step.undo):
        wanted.append((("steps", i, "undo"), step.undo.strip()))
    for where, task in wanted:
        if task not in tasks:
            known = ", ".join(sorted(t for t in tasks if "-" not in t)) or "none found"
            hint = ctx.did_you_mean(task, tasks) or f"its @task functions: {known}"
            yield ctx.error(
                where,
                f"{path.name} has no task '{task}'",
                hint,
                rule="fabric-unknown-task",
            )


def _ansible(ctx: Context, i: int, step: Any) -> Iterator[Diagnostic]:
    if step.on is None:
        yield ctx.error(
            ("steps", i, "ansible"),
            "an ansible step runs on a host group",
            "add on: GROUP",
            rule="ansible-without-hosts",
        )
    wanted: list[tuple[tuple[str | int, ...], str]] = [
        (("steps", i, "ansible", "playbook"), step.ansible.playbook)
    ]
    if step.undo:
        wanted.append((("steps", i, "undo"), step.undo.strip()))
    for where, name in wanted:
        path = _where(ctx, step, name)
        if path is not None and not path.is_file():
            yield ctx.error(
                where,
                f"no playbook at {path}",
                "give the playbook's path relative to the plan",
                rule="playbook-missing",
            )


def _docker(ctx: Context, i: int, step: Any) -> Iterator[Diagnostic]:
    spec = step.docker
    if step.on is not None:
        yield ctx.error(
            ("steps", i, "on"),
            "a docker step drives this machine's docker (or DOCKER_HOST), not a host group",
            "remove on:, or set DOCKER_HOST for the step's environment",
            rule="docker-with-hosts",
        )
    if not has_template(spec.image) and (problem := image_problem(spec.image)):
        yield ctx.error(
            ("steps", i, "docker", "image"),
            f"'{spec.image}' {problem}",
            "write it as registry/name:tag, e.g. ghcr.io/acme/app:1.4.2",
            rule="docker-bad-image",
        )
    path = _where(ctx, step, spec.compose)
    if path is None:
        return
    if not path.is_file():
        yield ctx.error(
            ("steps", i, "docker", "compose"),
            f"no compose file at {path}",
            "give the compose file's path relative to the plan in docker.compose",
            rule="compose-missing",
        )
        return
    services = _compose_services(path)
    if services is not None and spec.service not in services:
        hint = ctx.did_you_mean(spec.service, services) or (
            f"its services: {', '.join(sorted(services)) or 'none'}"
        )
        yield ctx.error(
            ("steps", i, "docker", "service"),
            f"{path.name} has no service '{spec.service}'",
            hint,
            rule="compose-unknown-service",
        )


def _compose_services(path: Path) -> set[str] | None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError:
        return None
    services = data.get("services") if isinstance(data, dict) else None
    return {str(name) for name in services} if isinstance(services, dict) else None
