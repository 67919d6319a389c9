"""docker: steps against a real dockerd: `compose up` of a service at a new image (tiny images
built here from busybox, no registry), the digests before and after on the record, the wait
for the container's HEALTHCHECK, the failure policy, an undo that puts the exact previous image
back, and `golive check` naming an image reference that cannot be parsed with file:line."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from golive.engine.events import Outcome
from golive.engine.state import StepStatus, UndoStatus
from golive.plan import check_plan
from golive.store import open_store
from golive.testing import PlanRunner

pytestmark = pytest.mark.timeout(240)

DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG VERSION
ARG HEALTHY=yes
RUN echo $VERSION > /version && echo $HEALTHY > /healthy
HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ["/bin/sh", "-c", "grep -q yes /healthy"]
STOPSIGNAL SIGKILL
CMD ["/bin/sh", "-c", "cat /version; exec sleep 100000"]
"""
IMAGE = "golive-test/app"


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def compose(*args: str) -> str:
    return subprocess.run(
        ["docker-compose", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Images 1 and 2 (healthy) and 3 (never healthy), built from busybox: name -> image id."""
    if (
        shutil.which("docker") is None
        or subprocess.run(
            ["docker", "info"], capture_output=True, check=False, timeout=30
        ).returncode
    ):
        pytest.skip("no dockerd answers here: run scripts/services.sh (install_docker)")
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).exists():
        pytest.skip("busybox-static is not installed: run scripts/services.sh")
    context = tmp_path_factory.mktemp("image")
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text(DOCKERFILE)
    ids = {}
    for tag, healthy in (("1", "yes"), ("2", "yes"), ("3", "no")):
        docker(
            "build",
            "-q",
            "-t",
            f"{IMAGE}:{tag}",
            "--build-arg",
            f"VERSION={tag}",
            "--build-arg",
            f"HEALTHY={healthy}",
            str(context),
        )
        ids[tag] = docker("image", "inspect", "--format", "{{.Id}}", f"{IMAGE}:{tag}").strip()
    return ids


@pytest.fixture
def project(tmp_path: Path, images: dict[str, str]) -> Iterator[str]:
    """A compose project whose service `web` runs image 1, removed after the test."""
    name = f"golive-{uuid.uuid4().hex[:8]}"
    (tmp_path / "compose.yaml").write_text(f"services:\n  web:\n    image: {IMAGE}:1\n")
    compose("-p", name, "-f", str(tmp_path / "compose.yaml"), "up", "-d", "web")
    yield name
    subprocess.run(
        ["docker-compose", "-p", name, "-f", str(tmp_path / "compose.yaml"), "down", "-t", "1"],
        capture_output=True,
        check=False,
        timeout=120,
    )


def running(tmp_path: Path, project: str) -> str:
    """The image id the service's container runs now."""
    (container,) = compose(
        "-p", project, "-f", str(tmp_path / "compose.yaml"), "ps", "-q", "web"
    ).split()
    return docker("inspect", "--format", "{{.Image}}", container).strip()


def runner_for(
    tmp_path: Path,
    project: str,
    tag: str,
    *,
    after: str = "",
    extra: str = "",
    image: str | None = None,
    environment: str = "{}",
) -> PlanRunner:
    text = (
        "golive: docker-test\n"
        "title: Docker test\n"
        "people:\n  ann: {name: Ann}\n"
        f"environments:\n  staging: {environment}\n"
        "steps:\n"
        "  - id: deploy\n"
        "    owner: ann\n"
        f"    docker: {{service: web, image: '{image or f'{IMAGE}:{tag}'}', pull: false, "
        f"project: {project}, health_timeout: 20s}}\n" + extra + after
    )
    return PlanRunner.from_yaml(tmp_path, text)


def recorded(runner: PlanRunner, run_id: str, kind: str) -> list[dict[str, object]]:
    with open_store(runner.store_url) as store:
        return [e.data for e in store.events(run_id, types={kind})]


def test_compose_up_at_a_new_image_records_both_images_and_waits_for_health(
    tmp_path: Path, project: str, images: dict[str, str]
) -> None:
    assert running(tmp_path, project) == images["1"]
    runner = runner_for(tmp_path, project, "2")
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("deploy").error
    assert running(tmp_path, project) == images["2"]
    (succeeded,) = recorded(runner, state.run_id, "StepSucceeded")
    details = succeeded["details"]
    assert isinstance(details, dict)
    assert details["before"] == {"id": images["1"], "reference": f"{IMAGE}:1", "digests": []}
    assert details["after"]["id"] == images["2"]
    assert details["health"] == "healthy"
    texts = [o["text"] for o in recorded(runner, state.run_id, "StepOutput")]
    assert "web: healthy" in texts


def test_a_later_failure_rolls_back_to_the_exact_previous_image(
    tmp_path: Path, project: str, images: dict[str, str]
) -> None:
    runner = runner_for(
        tmp_path,
        project,
        "2",
        after="  - id: smoke\n    owner: ann\n    needs: [deploy]\n    run: 'false'\n"
        "    failure: rollback\n",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.rolled_back
    assert state.step("deploy").undo is UndoStatus.succeeded
    assert running(tmp_path, project) == images["1"]
    # by the reference it was started from, since that still names the same image
    override = json.loads((tmp_path / ".golive-web.override.yaml").read_text())
    assert override == {"services": {"web": {"image": f"{IMAGE}:1"}}}


def test_an_image_that_never_turns_healthy_fails_the_step_and_is_rolled_back(
    tmp_path: Path, project: str, images: dict[str, str]
) -> None:
    runner = runner_for(tmp_path, project, "3", extra="    failure: rollback\n")
    state = runner.run(env="staging")
    deploy = state.step("deploy")
    assert state.outcome is Outcome.rolled_back
    assert deploy.status is StepStatus.failed
    assert (deploy.error or "").startswith("container of web is unhealthy")
    assert deploy.undo is UndoStatus.succeeded
    assert running(tmp_path, project) == images["1"]


def test_the_undo_uses_the_image_id_when_the_old_tag_moved(
    tmp_path: Path, project: str, images: dict[str, str]
) -> None:
    runner = runner_for(
        tmp_path,
        project,
        "2",
        after="  - id: smoke\n    owner: ann\n    needs: [deploy]\n"
        f"    run: docker tag {IMAGE}:3 {IMAGE}:moving && false\n    failure: rollback\n",
    )
    docker("tag", f"{IMAGE}:1", f"{IMAGE}:moving")
    (tmp_path / "compose.yaml").write_text(f"services:\n  web:\n    image: {IMAGE}:moving\n")
    compose("-p", project, "-f", str(tmp_path / "compose.yaml"), "up", "-d", "web")
    state = runner.run(env="staging")
    assert state.outcome is Outcome.rolled_back
    assert running(tmp_path, project) == images["1"]  # not image 3, which the tag names now


def test_a_secret_in_the_image_reference_never_reaches_the_record(
    tmp_path: Path, project: str, images: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    docker("tag", f"{IMAGE}:2", f"{IMAGE}:canary-s3cr3t")
    monkeypatch.setenv("GOLIVE_TEST_DOCKER_TAG", "canary-s3cr3t")
    runner = runner_for(
        tmp_path,
        project,
        "",
        image=IMAGE + ":{{ secrets.TAG }}",
        environment="{secrets: {TAG: {env: GOLIVE_TEST_DOCKER_TAG}}}",
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("deploy").error
    assert running(tmp_path, project) == images["2"]
    with open_store(runner.store_url) as store:
        everything = "".join(str(e.data) for e in store.events(state.run_id))
    assert "canary-s3cr3t" not in everything
    assert f"{IMAGE}:••••••" in everything


def test_check_names_an_image_reference_that_cannot_be_parsed_with_file_and_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n")
    runner = runner_for(tmp_path, "p", "", image="golive-test/App:1 beta")
    errors = [d.format() for d in check_plan(runner.plan_path).errors]
    assert errors == [
        f"{runner.plan_path}:10:35: error: steps.deploy.docker.image: 'golive-test/App:1 beta' "
        "is not an image reference (registry/name:tag or name@sha256:DIGEST) (write it as "
        "registry/name:tag, e.g. ghcr.io/acme/app:1.4.2)"
    ]


def test_check_names_a_missing_compose_file_and_an_unknown_service(tmp_path: Path) -> None:
    runner = runner_for(tmp_path, "p", "1")
    (error,) = [d.format() for d in check_plan(runner.plan_path).errors]
    assert "steps.deploy.docker.compose: no compose file at" in error
    (tmp_path / "compose.yaml").write_text("services:\n  webb:\n    image: x\n")
    (error,) = [d.format() for d in check_plan(runner.plan_path).errors]
    assert f"{runner.plan_path}:10:" in error
    assert "compose.yaml has no service 'web' (did you mean 'webb'?)" in error


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("nginx", None),
        ("nginx:1.25-alpine", None),
        ("ghcr.io/acme/web:1.2", None),
        ("localhost:5000/a/b@sha256:" + "a" * 64, None),
        ("registry:5000/team/app", None),
        ("Acme/web:1", "has upper-case letters in its name (repository names are lower-case)"),
        ("web:1 beta", "is not an image reference (registry/name:tag or name@sha256:DIGEST)"),
        ("web:", "is not an image reference (registry/name:tag or name@sha256:DIGEST)"),
        ("web@sha256:abc", "is not an image reference (registry/name:tag or name@sha256:DIGEST)"),
        (" web", "is empty or has spaces around it"),
    ],
)
def test_image_references_are_read_by_dockers_grammar(reference: str, problem: str | None) -> None:
    from golive.plan.tools import image_problem

    assert image_problem(reference) == problem
