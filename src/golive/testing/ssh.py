"""A throwaway OpenSSH server for testing SSH steps: golive's own tests and benchmarks use it,
and so can a plan's author who wants to rehearse `on:` steps on one machine.

from golive.testing.ssh import Sshd
with Sshd.start(tmp_path, aliases=10) as sshd:
    monkeypatch.setenv("GOLIVE_SSH_CONFIG", str(sshd.config))
    monkeypatch.setenv("GOLIVE_SSH_KNOWN_HOSTS", str(sshd.known_hosts))
    ...  # hosts h001..h010 all reach this sshd

The server is the machine's `/usr/sbin/sshd` (Debian: `apt-get install openssh-server`), run in
the foreground on a free loopback port with a host key, a user key, `authorized_keys`, an ssh
client config (one `Host` alias per simulated host) and a `known_hosts` file, all in the given
directory. Its settings are sshd's defaults otherwise, `MaxStartups` included: a fan-out must
cope with a stock server. Sessions get `HOME` set to an empty directory so that the login
user's shell start-up files do not run (they can cost 100 ms per command; see docs/ssh.md), and
`GOLIVE_TEST_HOST` set to the alias they were opened for, so that a command knows which
simulated host it runs on.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import asyncssh

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 10.0


class SshdUnavailable(RuntimeError):
    """The machine has no sshd and it cannot be installed from here."""


def ensure_sshd_installed() -> Path:
    """The sshd binary, installed from Debian's openssh-server when missing and possible."""
    if SSHD.exists():
        return SSHD
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise SshdUnavailable(
            f"{SSHD} is missing: install OpenSSH's server (Debian: apt-get install openssh-server)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "openssh-server"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["failed"])[-1]
            raise SshdUnavailable(f"cannot install openssh-server: {' '.join(command)}: {last}")
    return SSHD


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def alias(number: int) -> str:
    """The name of simulated host `number` (1-based): h001, h002, ..."""
    return f"h{number:03d}"


def write_key(path: Path, key: asyncssh.SSHKey) -> Path:
    key.write_private_key(str(path))
    key.write_public_key(str(path) + ".pub")
    path.chmod(0o600)
    return path


@dataclass
class Sshd:
    """One running sshd and the client-side files that reach it."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    user: str
    user_key: Path
    config: Path
    known_hosts: Path
    aliases: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, directory: Path, *, aliases: int = 10) -> Sshd:
        """Start sshd on a free loopback port, with `aliases` Host entries h001.. reaching it."""
        binary = ensure_sshd_installed()
        directory.mkdir(parents=True, exist_ok=True)
        host_key = write_key(directory / "ssh_host_ed25519_key", new_key())
        user_key = write_key(directory / "id_ed25519", new_key())
        (directory / "authorized_keys").write_bytes(Path(f"{user_key}.pub").read_bytes())
        (directory / "home").mkdir(exist_ok=True)
        port = free_port()
        server_config = directory / "sshd_config"
        server_config.write_text(sshd_config(directory, port, host_key), encoding="utf-8")
        with contextlib.suppress(PermissionError):
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
        log = (directory / "sshd.log").open("ab")
        process = subprocess.Popen(
            [str(binary), "-D", "-e", "-f", str(server_config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        names = [alias(n) for n in range(1, aliases + 1)]
        user = getpass.getuser()
        sshd = cls(
            directory,
            port,
            process,
            user,
            user_key,
            directory / "ssh_config",
            directory / "known_hosts",
            names,
        )
        sshd.config.write_text(sshd.client_config(names), encoding="utf-8")
        public = Path(f"{host_key}.pub").read_text(encoding="ascii").split()
        sshd.known_hosts.write_text(
            f"[127.0.0.1]:{port} {public[0]} {public[1]}\n", encoding="ascii"
        )
        sshd.wait_until_listening()
        return sshd

    def client_config(self, names: list[str], *, port: int | None = None) -> str:
        """`Host` entries for `names`, each reaching this sshd (or `port` on loopback)."""
        blocks = [
            f"Host {name}\n"
            f"    HostName 127.0.0.1\n"
            f"    Port {port or self.port}\n"
            f"    User {self.user}\n"
            f"    IdentityFile {self.user_key}\n"
            f"    IdentitiesOnly yes\n"
            f"    SetEnv GOLIVE_TEST_HOST={name}\n"
            for name in names
        ]
        return "\n".join(blocks)

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SshdUnavailable(f"sshd exited at start: {self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1) as s,
            ):
                if s.recv(8).startswith(b"SSH-"):
                    return
            time.sleep(0.02)
        raise SshdUnavailable(f"sshd did not listen on 127.0.0.1:{self.port}: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.directory / "sshd.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return " | ".join(lines[-5:]) or "no log"

    def environ(self) -> dict[str, str]:
        """The variables that point golive's ssh steps at this server."""
        return {
            "GOLIVE_SSH_CONFIG": str(self.config),
            "GOLIVE_SSH_KNOWN_HOSTS": str(self.known_hosts),
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Sshd:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def new_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


def sshd_config(directory: Path, port: int, host_key: Path) -> str:
    """sshd's defaults, on loopback, with every file in `directory` (MaxStartups stays stock)."""
    return (
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"PidFile {directory / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PrintMotd no\n"
        "PrintLastLog no\n"
        f"SetEnv HOME={directory / 'home'}\n"
        "AcceptEnv GOLIVE_TEST_HOST\n"
        "LogLevel INFO\n"
    )
