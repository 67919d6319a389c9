"""One fabfile task on one host, in a process of its own (`python -m golive.actions.fabric_host`).

The `fabric` action starts this once per host: the fabfile's code runs here, not in the engine,
so that its output is the host's output, a timeout stops it with its process group, and a
fabfile that hangs or crashes takes nothing else down. It reads one JSON object on the command
line: fabfile, task, host, args, ssh_config, known_hosts, connect_timeout.

Host keys are checked strictly, as golive's own ssh steps do: against `known_hosts` (or
~/.ssh/known_hosts), and an unknown key fails the host (Fabric's default would add it).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any

UNKNOWN_TASK = 3  # exit code: the fabfile has no such task
NOT_INSTALLED = 4  # exit code: Fabric is not installed


def task_of(module: Any, name: str) -> Any:
    """The invoke Task called `name` (a function `deploy_app` is the task `deploy-app` too)."""
    from invoke.tasks import Task

    for attr, value in vars(module).items():
        if isinstance(value, Task) and name in (attr, attr.replace("_", "-"), value.name):
            return value
    return None


def accepted(task: Any, args: dict[str, str]) -> dict[str, str]:
    """The arguments the task's function takes (an undo task gets those of the step it
    reverts that it declares; all of them if it takes **kwargs)."""
    parameters = inspect.signature(task.body).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return args
    names = {p.name for p in parameters}
    return {name: value for name, value in args.items() if name in names}


def main(argv: list[str]) -> int:
    spec: dict[str, Any] = json.loads(argv[0])
    try:
        import paramiko  # type: ignore[import-untyped]
        from fabric import Config, Connection  # type: ignore[import-untyped]
        from invoke.exceptions import UnexpectedExit
    except ImportError:
        print("golive: Fabric is not installed: pip install 'golive[fabric]'", file=sys.stderr)
        return NOT_INSTALLED
    fabfile = Path(spec["fabfile"])
    sys.path.insert(0, str(fabfile.parent))
    loader = importlib.util.spec_from_file_location("fabfile", fabfile)
    if loader is None or loader.loader is None:
        print(f"golive: cannot load {fabfile}", file=sys.stderr)
        return UNKNOWN_TASK
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    task = task_of(module, spec["task"])
    if task is None:
        print(f"golive: {fabfile.name} has no task '{spec['task']}'", file=sys.stderr)
        return UNKNOWN_TASK
    config = Config(runtime_ssh_path=spec["ssh_config"]) if spec.get("ssh_config") else Config()
    connection = Connection(
        spec["host"], config=config, connect_timeout=int(spec.get("connect_timeout") or 10)
    )
    client = connection.client
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    known = spec.get("known_hosts") or str(Path("~/.ssh/known_hosts").expanduser())
    if Path(known).exists():
        client.load_host_keys(known)
    try:
        with connection:
            task(connection, **accepted(task, spec.get("args", {})))
    except UnexpectedExit as exc:
        result = exc.result
        print(f"golive: `{result.command}` exited {result.exited}", file=sys.stderr)
        return int(result.exited) or 1
    except paramiko.SSHException as exc:
        print(f"golive: ssh: {exc}", file=sys.stderr)
        return 255
    except OSError as exc:
        print(f"golive: cannot reach {spec['host']}: {exc}", file=sys.stderr)
        return 255
    except Exception as exc:  # the task's own error: one line, not a traceback
        print(f"golive: task '{spec['task']}' failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
