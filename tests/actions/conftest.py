"""A real sshd for the ssh action's tests: one per session, 200 host aliases reaching it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from golive.testing.ssh import Sshd, SshdUnavailable


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """sshd on a free loopback port, installed from Debian first if missing; h001..h200."""
    try:
        server = Sshd.start(tmp_path_factory.mktemp("sshd"), aliases=200)
    except SshdUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    with server:
        yield server


@pytest.fixture
def ssh_env(sshd: Sshd, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sshd:
    """Point golive's ssh steps at the test sshd (its config and known_hosts, copied to tmp)."""
    config = tmp_path / "ssh_config"
    known = tmp_path / "known_hosts"
    shutil.copyfile(sshd.config, config)
    shutil.copyfile(sshd.known_hosts, known)
    monkeypatch.setenv("GOLIVE_SSH_CONFIG", str(config))
    monkeypatch.setenv("GOLIVE_SSH_KNOWN_HOSTS", str(known))
    monkeypatch.setenv("GOLIVE_TEST_TOKEN", "s3cr3t-value")  # the test plans' secret
    return sshd
