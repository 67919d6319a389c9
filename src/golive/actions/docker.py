"""`docker:` steps: `compose up` of one service at a new image, with the digests on the record.

    - id: deploy-web
      docker: {compose: compose.yaml, service: web, image: "ghcr.io/acme/web:{{ release }}"}

The step records the image the service's container runs before (its image id, the reference
it was started from, its registry digests), pulls the new image (`pull: false` for a local
one), starts the service on it through a compose override file golive writes next to the
compose file (`.golive-SERVICE.override.yaml`, so the project's own compose file is never
edited: pass it with `-f` after yours to keep the image), then waits for the new container's
HEALTHCHECK to say healthy (`health_timeout:`, default 2 minutes; a container without one
must be running). Before and after are the step's details.

The undo reads what the step kept (next to the compose file, named after the run and the
step) and puts the service back on the exact image id it ran before, by the reference it was
started from if that still names the same image, else by its registry digest, else by id;
a service that had no container before is stopped and removed. Docker runs on this machine (or
wherever DOCKER_HOST points); `docker compose` (v2) is used when present, else `docker-compose`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from golive.actions.base import Result, StepContext
from golive.actions.process import run_command
from golive.plan.models import DockerSpec, Step, StepKind
from golive.plan.template import TemplateError
from golive.plan.tools import image_problem

POLL = 0.5  # seconds between two looks at the container's health


class DockerError(Exception):
    """One line for the user: what docker said, and where."""


@functools.cache
def compose_command() -> tuple[str, ...] | None:
    """`docker compose` (v2 plugin) if it answers, else `docker-compose`, else None."""
    import subprocess

    docker = shutil.which("docker")
    if docker is not None:
        found = subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if found.returncode == 0:
            return (docker, "compose")
    legacy = shutil.which("docker-compose")
    return (legacy,) if legacy else None


@dataclass(frozen=True)
class ImageState:
    """The image a service's container runs: its id, the reference, the registry digests."""

    id: str
    reference: str
    digests: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reference": self.reference, "digests": list(self.digests)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageState:
        return cls(str(data["id"]), str(data["reference"]), tuple(data.get("digests", ())))


class DockerAction:
    kind: ClassVar[StepKind] = StepKind.docker

    def supports(self, step: Step) -> str | None:
        if step.on is not None:
            return "a docker step drives this machine's docker (or DOCKER_HOST), not a host group"
        if shutil.which("docker") is None:
            return "docker is not installed on this machine"
        return None

    async def run(self, ctx: StepContext) -> Result:
        started = ctx.monotonic()
        try:
            async with asyncio.timeout(ctx.timeout):
                details = await Deployment.of(ctx).deploy()
        except TimeoutError:
            return Result.failure(
                f"timed out after {ctx.timeout:g}s", duration=ctx.monotonic() - started
            )
        except DockerError as exc:
            return Result.failure(ctx.redact(str(exc)), duration=ctx.monotonic() - started)
        return Result(ok=True, duration=ctx.monotonic() - started, details=masked(ctx, details))

    async def undo(self, ctx: StepContext) -> Result | None:
        started = ctx.monotonic()
        try:
            async with asyncio.timeout(ctx.timeout):
                details = await Deployment.of(ctx).revert()
        except TimeoutError:
            return Result.failure(
                f"undo timed out after {ctx.timeout:g}s", duration=ctx.monotonic() - started
            )
        except DockerError as exc:
            return Result.failure(ctx.redact(str(exc)), duration=ctx.monotonic() - started)
        if details is None:
            return None
        return Result(ok=True, duration=ctx.monotonic() - started, details=masked(ctx, details))


def masked(ctx: StepContext, details: dict[str, Any]) -> dict[str, Any]:
    """The details as recorded: every secret value masked, wherever it is."""

    def mask(value: Any) -> Any:
        if isinstance(value, str):
            return ctx.redact(value)
        if isinstance(value, dict):
            return {key: mask(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [mask(item) for item in value]
        return value

    return {key: mask(value) for key, value in details.items()}


@dataclass
class Deployment:
    ctx: StepContext
    spec: DockerSpec
    compose_file: Path
    image: str

    @classmethod
    def of(cls, ctx: StepContext) -> Deployment:
        spec = ctx.step.docker
        assert spec is not None
        try:
            image = ctx.render(spec.image).strip()
            compose_file = (ctx.workdir / ctx.render(spec.compose)).resolve()
        except TemplateError as exc:
            raise DockerError(f"cannot fill in the image: {exc}") from None
        if problem := image_problem(image):
            raise DockerError(f"docker.image '{image}' {problem}")
        if not compose_file.is_file():
            raise DockerError(f"no compose file at {compose_file} (docker.compose)")
        return cls(ctx, spec, compose_file, image)

    def say(self, text: str) -> None:
        """One line of the step's own output, masked like the commands' output."""
        self.ctx.output("stdout", self.ctx.redact(text))

    @property
    def override(self) -> Path:
        return self.compose_file.parent / f".golive-{self.spec.service}.override.yaml"

    @property
    def kept(self) -> Path:
        """What the step found before it changed anything (the first attempt's, on a retry)."""
        name = f".golive-{self.ctx.run_id}-{self.ctx.step.id}.docker.json"
        return self.compose_file.parent / name

    # --- the step ---------------------------------------------------------------------------

    async def deploy(self) -> dict[str, Any]:
        if self.kept.exists():
            before = self._read_kept()
        else:
            before = await self.running()
            self._keep(before)
        self.say(f"before: {self._describe(before)}")
        if self.spec.pull:
            await self.docker("pull", self.image, what=f"cannot pull {self.image}")
        after_image = await self.image_state(self.image)
        if after_image is None:
            raise DockerError(f"no image {self.image} here (pull: false: build or load it first)")
        await self.up(self.image)
        health = await self.healthy()
        after = await self.running()
        if after is None or after.id != after_image.id:
            raise DockerError(
                f"service {self.spec.service} does not run {self.image} after compose up"
            )
        self.say(f"after: {self._describe(after)}")
        return {
            "service": self.spec.service,
            "image": self.image,
            "before": before.to_json() if before else None,
            "after": after.to_json(),
            "health": health,
        }

    async def revert(self) -> dict[str, Any] | None:
        if not self.kept.exists():
            return None  # the step never got as far as looking: nothing changed
        before = self._read_kept()
        if before is None:
            self.say(f"no container before: removing {self.spec.service}")
            await self.compose("rm", "--stop", "--force", self.spec.service)
            self.override.unlink(missing_ok=True)
            return {"service": self.spec.service, "restored": None}
        reference = await self.reference_for(before)
        self.say(f"back to {reference} ({before.id[:19]})")
        await self.up(reference)
        health = await self.healthy()
        now = await self.running()
        if now is None or now.id != before.id:
            raise DockerError(
                f"undo: service {self.spec.service} runs {now.id if now else 'nothing'}, "
                f"not {before.id}"
            )
        return {"service": self.spec.service, "restored": now.to_json(), "health": health}

    # --- what docker says -------------------------------------------------------------------

    async def running(self) -> ImageState | None:
        """The image the service's container runs now, or None when it has none."""
        ids = (await self.compose("ps", "-q", self.spec.service, capture=True)).split()
        if not ids:
            return None
        found = json.loads(await self.docker("inspect", ids[0], capture=True))[0]
        image = await self.image_state(found["Image"])
        digests = image.digests if image else ()
        return ImageState(found["Image"], found["Config"]["Image"], digests)

    async def image_state(self, reference: str) -> ImageState | None:
        try:
            text = await self.docker("image", "inspect", reference, capture=True)
        except DockerError:
            return None
        found = json.loads(text)[0]
        return ImageState(found["Id"], reference, tuple(found.get("RepoDigests") or ()))

    async def reference_for(self, before: ImageState) -> str:
        """How to name the image the service ran: as before if that still names it, else by
        digest, else by id."""
        same = await self.image_state(before.reference)
        if same is not None and same.id == before.id:
            return before.reference
        return before.digests[0] if before.digests else before.id

    async def healthy(self) -> str:
        """Wait for the service's container to be healthy (or running, without a HEALTHCHECK)."""
        ctx, spec = self.ctx, self.spec
        deadline = ctx.monotonic() + spec.health_timeout.total_seconds()
        last = ""
        while True:
            ids = (await self.compose("ps", "-q", spec.service, capture=True)).split()
            if ids:
                state = json.loads(await self.docker("inspect", ids[0], capture=True))[0]["State"]
                health = (state.get("Health") or {}).get("Status")
                if not state.get("Running"):
                    raise DockerError(
                        f"container of {spec.service} is {state.get('Status')} "
                        f"(exit code {state.get('ExitCode')})"
                    )
                if health is None:
                    self.say(f"{spec.service}: running (no HEALTHCHECK)")
                    return "running"
                if health != last:
                    self.say(f"{spec.service}: {health}")
                    last = health
                if health == "healthy":
                    return "healthy"
                if health == "unhealthy":
                    log = (state.get("Health") or {}).get("Log") or [{}]
                    said = str(log[-1].get("Output", "")).strip()[:200]
                    raise DockerError(
                        f"container of {spec.service} is unhealthy" + (f": {said}" if said else "")
                    )
            if ctx.monotonic() > deadline:
                raise DockerError(
                    f"{spec.service} not healthy after {spec.health_timeout.total_seconds():g}s"
                    f" (last: {last or 'no container'})"
                )
            await asyncio.sleep(POLL)

    # --- commands ---------------------------------------------------------------------------

    async def up(self, reference: str) -> None:
        self.override.write_text(
            json.dumps({"services": {self.spec.service: {"image": reference}}}), encoding="utf-8"
        )
        await self.compose("up", "-d", "--no-deps", self.spec.service, overridden=True)

    async def compose(self, *args: str, capture: bool = False, overridden: bool = False) -> str:
        command = compose_command()
        if command is None:
            raise DockerError(
                "neither `docker compose` nor `docker-compose` is installed on this machine"
            )
        files = ["-f", str(self.compose_file)]
        if overridden or self.override.exists():
            files += ["-f", str(self.override)]
        project = ["-p", self.spec.project] if self.spec.project else []
        return await self._exec([*command, *project, *files, *args], capture=capture)

    async def docker(self, *args: str, capture: bool = False, what: str | None = None) -> str:
        docker = shutil.which("docker") or "docker"
        return await self._exec([docker, *args], capture=capture, what=what)

    async def _exec(self, argv: Sequence[str], *, capture: bool, what: str | None = None) -> str:
        ctx = self.ctx
        shown = shlex.join([Path(argv[0]).name, *argv[1:]])
        if capture:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.compose_file.parent,
                env=dict(ctx.environ),
            )
            out, err = await process.communicate()
            if process.returncode != 0:
                said = err.decode(errors="replace").strip().splitlines()
                raise DockerError(f"{what or shown}: {said[-1] if said else 'failed'}")
            return out.decode(errors="replace")
        self.say(f"$ {shown}")
        result = await run_command(
            shlex.join(argv),
            cwd=self.compose_file.parent,
            environ=ctx.environ,
            timeout=None,
            output=ctx.output,
            redact=ctx.redact,
            monotonic=ctx.monotonic,
            on_start=ctx.process_started,
        )
        if not result.ok:
            raise DockerError(f"{what or shown}: {result.error}")
        return result.output

    # --- what the step keeps ----------------------------------------------------------------

    def _keep(self, before: ImageState | None) -> None:
        data = {"before": before.to_json() if before else None}
        self.kept.write_text(json.dumps(data), encoding="utf-8")

    def _read_kept(self) -> ImageState | None:
        try:
            data = json.loads(self.kept.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DockerError(f"cannot read {self.kept}: {exc}") from None
        before = data.get("before")
        return ImageState.from_json(before) if before else None

    @staticmethod
    def _describe(state: ImageState | None) -> str:
        if state is None:
            return "no container"
        digest = f", {state.digests[0]}" if state.digests else ""
        return f"{state.reference} ({state.id[:19]}{digest})"
