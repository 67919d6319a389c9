"""What a run needs from its environment: variables, secrets, templating and redaction.

Secrets are read when a run starts (or resumes), live only in this process's memory, reach a
step as environment variables or `{{ secrets.X }}`, and are masked in everything recorded.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from golive.errors import SecretError, UsageError
from golive.plan.models import Plan, SecretSource, Step, StepKind
from golive.plan.shell import shell_command
from golive.plan.template import TemplateError, references, render

MASK = "••••••"
MIN_SECRET_LENGTH = 3
RELEASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
RELEASE_RULE = (
    "1 to 64 letters, digits and . _ + -, starting with a letter or digit (e.g. 1.4.2, 2026.12-rc1)"
)


def check_release(release: str | None) -> None:
    """Refuse a release that is not a plain version string: it reaches commands and file names."""
    if release is not None and not RELEASE.fullmatch(release):
        raise UsageError(f"release {release!r} is not valid: a release is {RELEASE_RULE}")


def read_secrets(plan: Plan, env: str, *, base: Path) -> dict[str, str]:
    """The environment's secrets, from variables or files; SecretError if one is missing."""
    values: dict[str, str] = {}
    for name, source in plan.environments[env].secrets.items():
        values[name] = _read_secret(name, source, base=base)
    return values


def _read_secret(name: str, source: SecretSource, *, base: Path) -> str:
    if source.env is not None:
        value = os.environ.get(source.env)
        if value is None:
            raise SecretError(
                f"secret {name}: environment variable {source.env} is not set; export it and retry"
            )
        return value
    path = base / Path(source.file or "").expanduser()  # an absolute or ~ path stays as it is
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SecretError(f"secret {name}: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SecretError(f"secret {name}: {path} is not UTF-8 text") from None


def encodings(secret: str) -> set[str]:
    """The forms of a secret golive itself may write: as it is, each of its lines, shell-quoted,
    URL-encoded (as a path, a query value, SQLAlchemy's URLs), JSON- and repr-escaped."""
    forms = {secret, *secret.splitlines()}
    for form in list(forms):
        forms |= {
            shlex.quote(form),
            urllib.parse.quote(form, safe=""),
            urllib.parse.quote(form),
            urllib.parse.quote_plus(form),
            json.dumps(form)[1:-1],
            json.dumps(form, ensure_ascii=False)[1:-1],
            repr(form)[1:-1],
        }
    return {f for f in forms if len(f.strip()) >= MIN_SECRET_LENGTH}


@dataclass(frozen=True)
class Redactor:
    """Masks every secret value (and the encodings of it golive produces) in a text."""

    secrets: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, compare=False)

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Redactor:
        forms = {f for v in values.values() if len(v) >= MIN_SECRET_LENGTH for f in encodings(v)}
        secrets = tuple(sorted(forms, key=len, reverse=True))
        if not secrets:
            return cls()
        return cls(secrets, re.compile("|".join(re.escape(s) for s in secrets)))

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text


def shown(text: str, plan: Plan, *, env: str, release: str | None, run_id: str) -> str:
    """A text for people (a step's title) with the values anyone may see filled in; a secret
    stays masked, and a name without a value in this run stays as written."""
    environment = plan.environments.get(env)
    values = {"env": env, "run_id": run_id, "plan": plan.golive}
    if release is not None:
        values["release"] = release
    namespaces = {
        "vars": dict(environment.vars) if environment else {},
        "secrets": dict.fromkeys(environment.secrets, MASK) if environment else {},
    }
    return render(text, values=values, namespaces=namespaces, keep_unknown=True)


@dataclass(frozen=True)
class RunContext:
    """Everything a run renders and runs with, for one plan, environment and release."""

    plan: Plan
    env: str
    release: str | None
    run_id: str
    workdir: Path
    secrets: Mapping[str, str]
    redact: Redactor

    @classmethod
    def build(
        cls, plan: Plan, *, env: str, release: str | None, run_id: str, plan_path: Path
    ) -> RunContext:
        if env not in plan.environments:
            known = ", ".join(plan.environments) or "none defined"
            raise UsageError(f"no environment '{env}' in the plan (known: {known})")
        workdir = plan_path.resolve().parent
        secrets = read_secrets(plan, env, base=workdir)
        return cls(plan, env, release, run_id, workdir, secrets, Redactor.of(secrets))

    def render(self, text: str) -> str:
        """`text` with its values; in a shell command, see `shell_command` instead."""
        values = {"env": self.env, "run_id": self.run_id, "plan": self.plan.golive}
        if self.release is not None:
            values["release"] = self.release
        namespaces = {"vars": self.plan.environments[self.env].vars, "secrets": self.secrets}
        return render(text, values=values, namespaces=namespaces)

    @cached_property
    def base_environ(self) -> dict[str, str]:
        """This process's environment with the secrets added: what every step starts from."""
        # Copied once per run, not per step: os.environ decodes every value on each read.
        return {**os.environ, **self.secrets}

    def environ(self, step: Step, attempt: int) -> dict[str, str]:
        environ = self.base_environ.copy()
        environ.update({k: self.render(v) for k, v in step.env.items()})
        environ.update(
            {
                "GOLIVE_RUN_ID": self.run_id,
                "GOLIVE_STEP": step.id,
                "GOLIVE_ENV": self.env,
                "GOLIVE_ATTEMPT": str(attempt),
                "GOLIVE_RELEASE": self.release or "",
            }
        )
        return environ

    def hosts_for(self, step: Step) -> tuple[str, ...]:
        """The hosts a step with `on: GROUP` runs on here (empty for a local step)."""
        if step.on is None:
            return ()
        return tuple(self.plan.environments[self.env].hosts.get(step.on, ()))

    def workdir_for(self, step: Step) -> Path:
        return (self.workdir / self.render(step.cwd)).resolve() if step.cwd else self.workdir

    def validate(self) -> None:
        """Render every step's templates now, so that a missing --release fails before step 1."""
        for step in self.plan.steps:
            texts = {key: getattr(step, key) for key in ("run", "undo", "cwd")}
            texts.update({f"env.{name}": value for name, value in step.env.items()})
            if step.sql is not None:
                texts.update({"sql.db": step.sql.db, "sql.statement": step.sql.statement})
            if step.fabric is not None:
                texts.update({f"fabric.args.{k}": v for k, v in step.fabric.args.items()})
            if step.ansible is not None:
                texts.update(
                    {f"ansible.extra_vars.{k}": v for k, v in step.ansible.extra_vars.items()}
                )
            if step.docker is not None:
                texts["docker.image"] = step.docker.image
            for key, text in texts.items():
                if not isinstance(text, str):
                    continue
                try:
                    self.render(text)
                    if key in ("run", "undo") and step.kind is StepKind.run:
                        shell_command(text, self.render)
                except TemplateError as exc:
                    needs_release = any(r.name == "release" for r in references(text))
                    hint = "; pass --release VERSION" if needs_release else ""
                    raise UsageError(f"steps.{step.id}.{key}: {exc}{hint}") from None
