"""SSH connections kept for a whole run: one per host alias, opened on first use, reused by
every later step on that host, closed when the run ends.

Opening is paced per server (the (address, port) a host alias resolves to): at most
`HANDSHAKES_PER_SERVER` unauthenticated handshakes at once, because a stock sshd
(`MaxStartups 10:30:100`) starts dropping connections at random beyond 10. A connection
dropped during the handshake anyway is retried with a short backoff. Every failure becomes one
line for the user (`SshConnectError`): unreachable, authentication refused, unknown or changed
host key, with what to do next.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from golive.actions.ssh_config import ConfigIndex

HANDSHAKES_PER_SERVER = 8
DEFAULT_CONCURRENCY = 50
DEFAULT_CONNECT_TIMEOUT = 10.0
HANDSHAKE_RETRIES = 8
RETRY_DELAY = 0.05  # doubled each retry, with jitter, at most RETRY_DELAY_MAX
RETRY_DELAY_MAX = 1.0
CLOSE_TIMEOUT = 5.0
MAX_JUMPS = 5

# A connection closed or reset by the server before authentication ends: sshd's MaxStartups
# drop (the server accepts, then closes at once), worth retrying.
DROPPED = (asyncssh.ConnectionLost, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


Opener = Callable[[], Awaitable[asyncssh.SSHClientConnection]]


class SshSettingError(ValueError):
    """A GOLIVE_SSH_* variable has a value golive cannot use."""


class SshConnectError(Exception):
    """A host could not be reached or logged in to; the message is one line for the user."""


@dataclass(frozen=True)
class SshSettings:
    """Where the ssh client configuration comes from, and how much to do at once."""

    config: tuple[str, ...]  # ssh_config files (empty: none)
    known_hosts: str | None  # a known_hosts file; None: the one the ssh config names, or ~/.ssh
    concurrency: int
    connect_timeout: float

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SshSettings:
        config = environ.get("GOLIVE_SSH_CONFIG") or ""
        if config:
            if not os.access(config, os.R_OK):
                raise SshSettingError(f"GOLIVE_SSH_CONFIG: cannot read {config}")
            configs: tuple[str, ...] = (config,)
        else:
            default = Path("~/.ssh/config").expanduser()
            configs = (str(default),) if os.access(default, os.R_OK) else ()
        return cls(
            config=configs,
            known_hosts=environ.get("GOLIVE_SSH_KNOWN_HOSTS") or None,
            concurrency=int(_number(environ, "GOLIVE_SSH_CONCURRENCY", DEFAULT_CONCURRENCY)),
            connect_timeout=_number(environ, "GOLIVE_SSH_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
        )

    @property
    def key(self) -> str:
        return f"golive.ssh:{self.config}:{self.known_hosts}:{self.connect_timeout}"


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text) if name.endswith("TIMEOUT") else int(text)
    except ValueError:
        value = 0
    if value <= 0:
        kind = "a number of seconds" if name.endswith("TIMEOUT") else "a whole number"
        raise SshSettingError(f"{name} must be {kind} above 0, got {text!r}")
    return value


@dataclass(frozen=True)
class Target:
    """What a host alias resolved to through the ssh config."""

    alias: str  # the name the config was read for
    options: asyncssh.SSHClientConnectionOptions
    host: str
    port: int
    known_hosts: Any  # an asyncssh SSHKnownHosts, or None when the config disables checking
    known_hosts_file: str  # where to add a key, for the hint
    jump: str | None  # ProxyJump chain

    @property
    def keys(self) -> dict[str, Any]:
        """The client keys resolving loaded, so that connecting does not read them again."""
        loaded = self.options.client_keys
        return {"client_keys": loaded} if loaded else {}


class SshPool:
    """The run's SSH connections by host alias (see the module docstring)."""

    def __init__(self, settings: SshSettings) -> None:
        self.settings = settings
        self._open_now: set[asyncssh.SSHClientConnection] = set()
        self._idle: dict[str, list[asyncssh.SSHClientConnection]] = {}
        self._jumps: dict[str, asyncio.Task[asyncssh.SSHClientConnection]] = {}
        self._pacers: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._known: dict[tuple[str, ...], asyncio.Future[Any]] = {}
        self._index: asyncio.Future[ConfigIndex | None] | None = None
        self._closed = False

    @contextlib.asynccontextmanager
    async def lease(self, alias: str) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """An open connection to `alias` for this caller alone, opened now if none is idle;
        SshConnectError if it can't be. One user at a time, because stopping a command
        signals the sessions of its connection."""
        connection = await self._take(alias)
        try:
            yield connection
        finally:
            if not self._closed and connection in self._open_now:
                self._idle.setdefault(alias, []).append(connection)

    def discard(self, connection: asyncssh.SSHClientConnection) -> None:
        """Drop a connection found broken, so that the next lease opens a new one."""
        self._open_now.discard(connection)
        connection.abort()

    async def aclose(self) -> None:
        """Close every connection, hosts first, then the jump hosts they went through."""
        self._closed = True
        hosts, self._open_now, self._idle = list(self._open_now), set(), {}
        jumps, self._jumps = list(self._jumps.values()), {}
        await asyncio.gather(*(_close(connection) for connection in hosts))
        for task in jumps:
            task.cancel()
        await asyncio.gather(*(_close_task(task) for task in jumps))
        if self._index is not None and self._index.done() and (index := self._index.result()):
            index.close()

    async def _take(self, alias: str) -> asyncssh.SSHClientConnection:
        if self._closed:
            raise SshConnectError("the run is over: its ssh connections are closed")
        idle = self._idle.get(alias, [])
        while idle:
            connection = idle.pop()
            if connection in self._open_now and not connection.is_closed():
                return connection
        connection = await self._open(alias)
        if self._closed:
            await _close(connection)
            raise SshConnectError("the run is over: its ssh connections are closed")
        self._open_now.add(connection)
        return connection

    # --- opening --------------------------------------------------------------------------------

    async def _shared(self, key: str, opener: Opener) -> asyncssh.SSHClientConnection:
        """One connection for every caller: for the jump hosts tunnels go through."""
        if self._closed:
            raise SshConnectError("the run is over: its ssh connections are closed")
        task = self._jumps.get(key)
        usable = task is not None and task.done() and not task.cancelled()
        if task is not None and usable and task.exception() is None and task.result().is_closed():
            del self._jumps[key]
            task = None
        if task is None:
            task = asyncio.ensure_future(opener())
            self._jumps[key] = task
        try:
            # shielded: a step cancelled while waiting must not cancel another step's connect
            return await asyncio.shield(task)
        except SshConnectError:
            if self._jumps.get(key) is task:
                del self._jumps[key]  # a later step tries again
            raise

    async def _open(self, alias: str, *, depth: int = 0) -> asyncssh.SSHClientConnection:
        target = await self._resolve(alias)
        tunnel = await self._jump(target.jump, depth) if target.jump else None
        return await self._handshake(target, tunnel)

    async def _jump(self, chain: str, depth: int) -> asyncssh.SSHClientConnection:
        """The connection to the last host of a ProxyJump chain, shared by every host behind it."""
        if depth >= MAX_JUMPS:
            raise SshConnectError(f"ProxyJump {chain}: more than {MAX_JUMPS} jumps (a loop?)")
        *before, last = [hop.strip() for hop in chain.split(",")]

        async def open_hop() -> asyncssh.SSHClientConnection:
            user, host, port = _hop(last)
            target = await self._resolve(host, port=port, username=user)
            if before:
                tunnel: asyncssh.SSHClientConnection | None = await self._jump(
                    ",".join(before), depth + 1
                )
            elif target.jump and target.jump != chain:
                tunnel = await self._jump(target.jump, depth + 1)
            else:
                tunnel = None
            return await self._handshake(target, tunnel)

        return await self._shared(f"jump:{chain}", open_hop)

    async def _resolve(
        self, alias: str, *, port: int | None = None, username: str | None = None
    ) -> Target:
        """Read the ssh config for `alias` (in a thread: the parse is slow on big configs)."""
        settings = self.settings
        extra: dict[str, Any] = {"host": alias, "connect_timeout": settings.connect_timeout}
        if port is not None:
            extra["port"] = port
        if username is not None:
            extra["username"] = username
        index = await self._config_index()
        build = functools.partial(_options, index, settings.config, extra)
        options = await asyncio.get_running_loop().run_in_executor(None, build)
        configured = options.known_hosts  # from the config: UserKnownHostsFile
        if settings.known_hosts:
            files: tuple[str, ...] | None = (settings.known_hosts,)
        elif configured is None:  # `UserKnownHostsFile none`: the user turned checking off
            files = None
        else:
            paths = configured if isinstance(configured, list | tuple) else ()
            files = tuple(str(p) for p in paths) or (str(Path("~/.ssh/known_hosts").expanduser()),)
        if files is None:
            known, first = None, "none"
        else:
            known, first = await self._known_hosts(files), files[0]
        jump = options.tunnel if isinstance(options.tunnel, str) else None
        return Target(alias, options, options.host, options.port, known, first, jump)

    async def _config_index(self) -> ConfigIndex | None:
        if self._index is None:
            loop = asyncio.get_running_loop()
            if len(self.settings.config) == 1:
                self._index = loop.run_in_executor(None, ConfigIndex.read, self.settings.config[0])
            else:
                self._index = loop.create_future()
                self._index.set_result(None)
        return await self._index

    async def _known_hosts(self, files: tuple[str, ...]) -> Any:
        """The known_hosts entries of `files`, read once per run (as a future: every host of a
        fan-out asks at once)."""
        if files not in self._known:
            readable = [f for f in files if os.access(f, os.R_OK)]
            loop = asyncio.get_running_loop()
            if readable:
                read = functools.partial(asyncssh.read_known_hosts, readable)
                self._known[files] = loop.run_in_executor(None, read)
            else:
                self._known[files] = loop.create_future()
                self._known[files].set_result(asyncssh.import_known_hosts(""))
        try:
            return await self._known[files]
        except (OSError, ValueError) as exc:
            raise SshConnectError(f"cannot read {files[0]}: {_reason(exc)}") from None

    async def _handshake(
        self, target: Target, tunnel: asyncssh.SSHClientConnection | None
    ) -> asyncssh.SSHClientConnection:
        pacer = self._pacers.setdefault(
            (target.host, target.port), asyncio.Semaphore(HANDSHAKES_PER_SERVER)
        )
        delay = RETRY_DELAY
        for attempt in range(HANDSHAKE_RETRIES + 1):
            try:
                async with pacer:
                    return await asyncssh.connect(
                        target.alias,
                        target.port,
                        options=target.options,
                        config=None,
                        tunnel=tunnel or (),
                        known_hosts=target.known_hosts,
                        **target.keys,
                    )
            except DROPPED as exc:
                if attempt == HANDSHAKE_RETRIES:
                    raise SshConnectError(_describe(exc, target, self.settings)) from None
            except (TimeoutError, OSError, asyncssh.Error, ValueError) as exc:
                raise SshConnectError(_describe(exc, target, self.settings)) from None
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, RETRY_DELAY_MAX)
        raise AssertionError("unreachable")  # pragma: no cover


def _options(
    index: ConfigIndex | None, config: tuple[str, ...], extra: dict[str, Any]
) -> asyncssh.SSHClientConnectionOptions:
    """asyncssh's options for one host, from the part of the config that applies to it when
    the config allows it (ssh_config.py), else from the whole file."""
    build = asyncssh.SSHClientConnectionOptions
    try:
        if index is not None:
            return build(config=[index.path_for(extra["host"])], **extra)
    except (OSError, ValueError):
        pass  # read the whole file again, for an error that names its lines
    try:
        return build(config=list(config) or None, **extra)
    except (OSError, ValueError) as exc:  # config parse errors, unreadable keys
        raise SshConnectError(f"cannot use the ssh configuration: {_reason(exc)}") from None


async def _close(connection: asyncssh.SSHClientConnection) -> None:
    connection.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(connection.wait_closed(), CLOSE_TIMEOUT)


async def _close_task(task: asyncio.Task[asyncssh.SSHClientConnection]) -> None:
    with contextlib.suppress(BaseException):
        await _close(await task)


def _hop(text: str) -> tuple[str | None, str, int | None]:
    """user, host, port of one ProxyJump hop: [user@]host[:port]."""
    user, _, host = text.rpartition("@")
    port: int | None = None
    if host.count(":") == 1:
        host, _, number = host.partition(":")
        port = int(number) if number.isdigit() else None
    return user or None, host, port


def _where(target: Target) -> str:
    return f"{target.host} port {target.port}"


def _describe(exc: BaseException, target: Target, settings: SshSettings) -> str:
    """One line saying what went wrong reaching `target`, and what to do about it."""
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return _host_key_problem(target)
    if isinstance(exc, asyncssh.PermissionDenied):
        user = target.options.username
        return (
            f"authentication refused for user {user} at {_where(target)}: no offered key is "
            "accepted; add your public key to the host's ~/.ssh/authorized_keys, or set "
            "User and IdentityFile for this host in the ssh config"
        )
    if isinstance(exc, TimeoutError):
        return (
            f"unreachable: no answer from {_where(target)} within {settings.connect_timeout:g}s "
            "(GOLIVE_SSH_CONNECT_TIMEOUT sets how long to wait)"
        )
    if isinstance(exc, DROPPED):
        return (
            f"connection closed by {_where(target)} during the handshake, "
            f"{HANDSHAKE_RETRIES + 1} times: is sshd refusing connections (MaxStartups, "
            "tcp wrappers, fail2ban)?"
        )
    if isinstance(exc, ConnectionRefusedError):
        return f"unreachable: connection refused by {_where(target)}: is sshd running there?"
    if isinstance(exc, socket.gaierror):
        return f"unreachable: cannot resolve host name {target.host!r}: check HostName"
    if isinstance(exc, OSError):
        return f"unreachable: {_where(target)}: {exc.strerror or exc}"
    return f"ssh to {_where(target)} failed: {_reason(exc)}"


def _host_key_problem(target: Target) -> str:
    known = target.known_hosts
    entry = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
    listed = False
    if known is not None:
        with contextlib.suppress(Exception):
            addresses = {target.host}
            with contextlib.suppress(OSError):
                addresses |= {str(i[4][0]) for i in socket.getaddrinfo(target.host, target.port)}
            listed = any(
                asyncssh.match_known_hosts(known, target.host, address, target.port)[0]
                for address in addresses
            )
    file = _home(target.known_hosts_file)
    if listed:
        return (
            f"host key mismatch for {entry}: the server's key is not the one in {file} (the "
            "host was reinstalled, or someone is in the middle); once you know which, remove "
            f"the old key: ssh-keygen -R '{entry}' -f {file}"
        )
    return (
        f"unknown host key for {entry} (not in {file}); if this is the right host, add it: "
        f"ssh-keyscan -p {target.port} {target.host} >> {file}"
    )


def _home(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home) :] if path.startswith(home + "/") else path


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())
