"""`ansible:` steps: a playbook against the hosts of the step's `on:` group.

golive writes an inventory of the group (host aliases, resolved by ssh through the same ssh
config and known_hosts as golive's own ssh steps, host keys checked strictly) and runs
`ansible-playbook --limit BATCH` once per batch (`batch:`), stopping when more hosts than
`max_failures:` have failed. A callback plugin shipped with golive
(`golive/actions/ansible_plugins/callback/golive_jsonl.py`) prints each task and each host's
result as a JSON line: they are recorded live as the step's output, per host. The recap
(ok / changed / failed / unreachable / skipped per host) is in the step's details. `undo:` names
the playbook that reverts it, run on the hosts the step touched, last batch first.

Extra vars (templated, secrets allowed) go to ansible-playbook in a file only the user can read,
never on its command line. ansible-core is an optional dependency: `pip install
'golive[ansible]'`.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

from golive.actions.base import Result, StepContext
from golive.actions.process import run_command
from golive.actions.ssh import Fanout
from golive.actions.ssh_pool import SshSettingError, SshSettings
from golive.plan.models import Step, StepKind
from golive.plan.template import TemplateError

PLUGINS = Path(__file__).parent / "ansible_plugins" / "callback"
MISSING = "ansible-playbook is not installed: pip install 'golive[ansible]'"
FIGURES = ("ok", "changed", "failed", "unreachable", "skipped")


def ansible_playbook() -> str | None:
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else shutil.which("ansible-playbook")


class AnsibleAction:
    """Runs `step.ansible.playbook` (and the `undo:` playbook) on the hosts of `step.on`."""

    kind: ClassVar[StepKind] = StepKind.ansible

    def supports(self, step: Step) -> str | None:
        if step.on is None:
            return "an ansible step runs on a host group: add on: GROUP"
        if step.env:
            return "env: is not passed to remote hosts; give the playbook extra_vars: instead"
        if ansible_playbook() is None:
            return MISSING
        return None

    async def run(self, ctx: StepContext) -> Result:
        assert ctx.step.ansible is not None
        return await self._play(ctx, ctx.step.ansible.playbook, undo=False)

    async def undo(self, ctx: StepContext) -> Result | None:
        if not ctx.step.undo:
            return None
        return await self._play(ctx, ctx.step.undo.strip(), undo=True)

    async def _play(self, ctx: StepContext, name: str, *, undo: bool) -> Result:
        spec = ctx.step.ansible
        assert spec is not None
        program = ansible_playbook()
        if program is None:
            return Result.failure(MISSING)
        try:
            settings = SshSettings.from_environ(ctx.environ)
            playbook = (ctx.workdir / ctx.render(name)).resolve()
            extra = {key: ctx.render(value) for key, value in spec.extra_vars.items()}
        except SshSettingError as exc:
            return Result.failure(str(exc))
        except TemplateError as exc:
            return Result.failure(ctx.redact(f"cannot fill in the playbook's values: {exc}"))
        if not playbook.is_file():
            return Result.failure(f"no playbook at {playbook}")
        if not ctx.hosts:
            return Result.failure(
                f"no hosts in group '{ctx.step.on}' of environment '{ctx.env_name}'"
            )
        plan = Fanout.of(ctx, "true", undo=undo)  # batches and failure bounds, as ssh steps
        with tempfile.TemporaryDirectory(prefix="golive-ansible-") as scratch:
            play = Play(ctx, program, playbook, Path(scratch), settings, extra)
            return await play.run(plan.batches, plan.allowed, plan.stop_after)


class Play:
    """One playbook over the step's batches: the processes, their JSON lines, the recap."""

    def __init__(
        self,
        ctx: StepContext,
        program: str,
        playbook: Path,
        scratch: Path,
        settings: SshSettings,
        extra: dict[str, str],
    ) -> None:
        self.ctx, self.program, self.playbook, self.scratch = ctx, program, playbook, scratch
        self.recap: dict[str, dict[str, int]] = {}
        self.errors: dict[str, str] = {}
        self.tail: deque[str] = deque(maxlen=20)
        self.task = ""
        self.inventory = self._inventory(settings)
        self.extra = scratch / "extra_vars.json"
        self.extra.touch(mode=0o600)
        self.extra.write_text(json.dumps(extra), encoding="utf-8")
        self.environ = {
            **ctx.environ,
            "ANSIBLE_CALLBACK_PLUGINS": str(PLUGINS),
            "ANSIBLE_STDOUT_CALLBACK": "golive_jsonl",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "1",
            "ANSIBLE_LOCAL_TEMP": str(scratch / "tmp"),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(scratch / "cp"),
            "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=5s",
            "ANSIBLE_FORKS": str(settings.concurrency),
            "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
            "PYTHONUNBUFFERED": "1",
        }

    def _inventory(self, settings: SshSettings) -> Path:
        args = [f"-o ConnectTimeout={max(1, round(settings.connect_timeout))}"]
        if settings.config:
            args.append(f"-F {shlex.quote(settings.config[0])}")
        if settings.known_hosts:
            args.append(f"-o UserKnownHostsFile={shlex.quote(settings.known_hosts)}")
        args.append("-o StrictHostKeyChecking=yes")
        inventory = {
            "all": {
                "hosts": {host: {} for host in self.ctx.hosts},
                "vars": {"ansible_ssh_common_args": " ".join(args)},
            }
        }
        path = self.scratch / "inventory.json"  # JSON is YAML: ansible's yaml plugin reads it
        path.write_text(json.dumps(inventory), encoding="utf-8")
        return path

    async def run(self, batches: list[list[str]], allowed: int, stop_after: int) -> Result:
        ctx = self.ctx
        started = ctx.monotonic()
        failed: list[str] = []
        done: list[str] = []
        exit_code = 0
        for batch in batches:
            if len(failed) > stop_after:
                break
            result = await self._batch(batch)
            for host in batch:
                figures = self.recap.get(host)
                if figures is None:
                    self.errors.setdefault(host, result.error or "not in the playbook's recap")
                if figures is None or figures["failed"] or figures["unreachable"]:
                    failed.append(host)
                    ctx.output("stderr", f"golive: {self.errors.get(host, 'failed')}", host=host)
            done.extend(batch)
            if not result.ok:
                exit_code = result.exit_code or exit_code
        ok = len(failed) <= allowed
        details: dict[str, Any] = {
            "playbook": self.playbook.name,
            "recap": {h: self.recap[h] for h in done if h in self.recap},
        }
        hosts = {h: self._host_result(h) for h in done}
        error = None
        if not ok:
            untouched = [h for b in batches for h in b if h not in done]
            error = f"{len(failed)} of {sum(map(len, batches))} hosts failed"
            if untouched:
                error += f", {len(untouched)} not touched ({', '.join(untouched[:5])})"
            error += f"; {failed[0]}: {self.errors.get(failed[0], 'failed')}"
        return Result(
            ok,
            ctx.monotonic() - started,
            0 if ok else (exit_code or 2),
            "\n".join(self.tail),
            error,
            hosts,
            details,
        )

    def _host_result(self, host: str) -> Result:
        figures = self.recap.get(host)
        if figures is None:
            return Result(False, exit_code=None, error=self.errors.get(host))
        if figures["unreachable"] and not (figures["ok"] or figures["changed"]):
            return Result(False, exit_code=None, error=self.errors.get(host, "unreachable"))
        if figures["failed"] or figures["unreachable"]:
            return Result(False, exit_code=2, error=self.errors.get(host, "failed"))
        return Result(True, exit_code=0)

    async def _batch(self, batch: list[str]) -> Result:
        argv = [
            self.program,
            "-i",
            str(self.inventory),
            "--limit",
            ",".join(batch),
            "-e",
            f"@{self.extra}",
        ]
        assert self.ctx.step.ansible is not None
        if self.ctx.step.ansible.check_mode:
            argv.append("--check")
        argv.append(str(self.playbook))
        return await run_command(
            shlex.join(argv),
            cwd=self.playbook.parent,
            environ=self.environ,
            timeout=self.ctx.timeout,
            output=self._line,
            redact=self.ctx.redact,
            monotonic=self.ctx.monotonic,
            on_start=self.ctx.process_started,
        )

    def _line(self, stream: str, line: str) -> None:
        """One line of ansible-playbook's output (redacted): a JSON event, or plain text."""
        ctx = self.ctx
        event: Any = None
        if stream == "stdout" and line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
        if not isinstance(event, dict) or "event" not in event:
            if line.strip():
                self.tail.append(line)
                ctx.output(stream, line)
            return
        kind = event["event"]
        if kind == "task":
            self.task = str(event.get("task", ""))
            ctx.output("stdout", f"TASK [{self.task}]")
        elif kind == "stats":
            for host, figures in event.get("hosts", {}).items():
                self.recap[host] = {k: int(figures.get(k, 0)) for k in FIGURES}
        else:
            host = str(event.get("host", ""))
            message = str(event.get("msg") or "")
            text = f"{kind}: {event.get('task', '')}" + (f": {message}" if message else "")
            if kind in ("failed", "unreachable"):
                self.errors[host] = text
            self.tail.append(f"[{host}] {text}")
            ctx.output("stderr" if kind in ("failed", "unreachable") else "stdout", text, host=host)
