"""Hostile files named as the plan, run through the real `golive` command: each is refused in one
line saying what it is, with exit 1, promptly, and without reading what it cannot bound."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

Golive = Callable[..., subprocess.CompletedProcess[str]]

# A FIFO must be refused without waiting for a writer: well under the fixture's 60 s timeout
PROMPT_S = 20.0


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.golive.yaml"
    os.mkfifo(path)
    return path


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The one diagnostic line a refused plan gets (check prints it on stdout, others on stderr)."""
    lines = [line for line in (result.stdout + result.stderr).splitlines() if ": error: " in line]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0]


def test_check_refuses_dev_zero_without_reading_it(golive: Golive) -> None:
    # regression: it read /dev/zero until a MemoryError
    result = golive("check", "/dev/zero")
    assert result.returncode == 1
    assert refusal(result) == (
        "/dev/zero:1:1: error: this is a character device, not a plan file "
        "(golive reads regular files: name a *.golive.yaml file)"
    )


def test_check_refuses_dev_urandom(golive: Golive) -> None:
    result = golive("check", "/dev/urandom")
    assert result.returncode == 1
    assert "this is a character device, not a plan file" in refusal(result)


def test_check_refuses_a_fifo_at_once_rather_than_waiting_for_a_writer(
    golive: Golive, fifo: Path
) -> None:
    # regression: open() on a FIFO waited for a writer forever
    started = time.monotonic()
    result = golive("check", fifo)
    assert time.monotonic() - started < PROMPT_S
    assert result.returncode == 1
    assert refusal(result) == (
        f"{fifo}:1:1: error: this is a FIFO (named pipe), not a plan file "
        "(golive reads regular files: name a *.golive.yaml file)"
    )


@pytest.mark.parametrize("command", [["show"], ["run", "--env", "prod"], ["checklist"]])
def test_every_command_that_reads_a_plan_refuses_a_fifo(
    golive: Golive, fifo: Path, command: list[str]
) -> None:
    started = time.monotonic()
    result = golive(*command[:1], fifo, *command[1:], cwd=fifo.parent)
    assert time.monotonic() - started < PROMPT_S
    assert result.returncode == 1
    assert "this is a FIFO (named pipe), not a plan file" in refusal(result)


def test_serve_refuses_a_fifo_as_its_plan(golive: Golive, fifo: Path) -> None:
    # regression: --plan said "no such file or directory" about a file that is there
    result = golive("serve", "--plan", fifo, "--state", f"sqlite:///{fifo.parent / 's.db'}")
    assert result.returncode == 1
    assert "this is a FIFO (named pipe), not a plan file" in refusal(result)


def test_serve_refuses_a_fifo_found_in_a_plan_directory(golive: Golive, fifo: Path) -> None:
    result = golive("serve", "--plan", fifo.parent, "--state", f"sqlite:///{fifo.parent / 's.db'}")
    assert result.returncode == 1
    assert "this is a FIFO (named pipe), not a plan file" in refusal(result)


def test_check_refuses_a_directory(golive: Golive, tmp_path: Path) -> None:
    result = golive("check", tmp_path)
    assert result.returncode == 1
    assert refusal(result) == (
        f"{tmp_path}:1:1: error: this is a directory, not a plan file (name a *.golive.yaml file)"
    )


def test_check_refuses_a_plan_over_8_mib_in_one_line(golive: Golive, tmp_path: Path) -> None:
    plan = tmp_path / "huge.golive.yaml"
    plan.write_bytes(b"golive: huge\ntitle: Huge\ndescription: " + b"x" * (8 * 2**20) + b"\n")
    result = golive("check", plan)
    assert result.returncode == 1
    assert refusal(result) == (
        f"{plan}:1:1: error: the plan file is larger than 8 MiB (split it up)"
    )


def test_init_force_will_not_write_into_a_fifo(golive: Golive, tmp_path: Path) -> None:
    # writing would wait for a reader forever
    os.mkfifo(tmp_path / "demo.golive.yaml")
    started = time.monotonic()
    result = golive("init", tmp_path, "--name", "demo", "--force")
    assert time.monotonic() - started < PROMPT_S
    assert result.returncode == 1
    assert "demo.golive.yaml exists and is not a regular file; remove it first" in result.stderr
