"""The command line starts without the heavy libraries: each command loads what it uses.

`golive status` is typed by a person waiting on a go-live call; importing the web app, scipy or
asyncssh for it would cost a second (bench/cli_startup.py times it).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import typer

from golive.cli.app import COMMANDS, MODULES, app, register

HEAVY = ("fastapi", "scipy", "numpy", "asyncssh", "uvicorn", "starlette", "jinja2")


def imported_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_importing_the_command_line_imports_no_heavy_library() -> None:
    loaded = imported_after("import golive.cli")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "sqlalchemy" not in loaded  # not even the store: --version and --help need none


def test_golive_version_imports_no_heavy_library() -> None:
    code = (
        "import sys\nfrom golive.cli import main\nsys.argv = ['golive', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    loaded = imported_after(code)
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_modules_of_run_and_status_import_no_heavy_library() -> None:
    for module in ("run_commands", "operator_commands", "status_commands"):
        loaded = imported_after(f"import golive.cli.{module}")
        assert not loaded & set(HEAVY), (module, loaded & set(HEAVY))


# What `golive status` does without (store/reader.py, plan/outline.py): the store's SQL, the
# YAML reader of plan files, the plan's pydantic models, the checks of `golive check`.
NOT_FOR_STATUS = (
    "sqlalchemy",
    "alembic",
    "ruamel",
    "holidays",
    "golive.plan.models",
    "golive.plan.source",
    "golive.plan.lint",
    "golive.store.event_store",
    "golive.engine.runner",
    "asyncio",
)


def test_golive_status_loads_neither_the_store_sql_nor_the_plan_models(tmp_path: Path) -> None:
    from golive.engine.events import RunStarted, encode
    from golive.plan.starter import render_starter
    from golive.store import open_store

    text = render_starter(
        plan_id="demo", filename="demo.golive.yaml", timezone="UTC", today=dt.date(2026, 12, 1)
    )
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(url) as store:
        run = store.create_run(
            plan_id="demo", plan_path="demo.golive.yaml", plan_hash="h", env="staging",
            release=None, rehearsal=True, started_by="ann",
        )  # fmt: skip
        started = RunStarted(
            plan_id="demo", plan_path="demo.golive.yaml", plan_hash="h", plan_text=text,
            env="staging", release=None, rehearsal=True, started_by="ann", max_parallel=1,
            host="h", pid=1, steps=["deploy"],
        )  # fmt: skip
        type_name, step, data = encode(started)
        store.append(run.id, type_name, step=step, data=data)
    code = (
        "import sys\nfrom golive.cli import main\n"
        f"sys.argv = ['golive', 'status', '--state', {url!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print()"
    )
    probe = f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert "demo" in done.stdout  # the board was drawn
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    loaded = {
        m for m in modules for name in NOT_FOR_STATUS if m == name or m.startswith(name + ".")
    }
    assert not loaded, sorted(loaded)


# What `golive gate`, `done` and `decide` do without (engine/operator.py): they append one event.
NOT_FOR_OPERATOR = (
    "golive.engine.runner",
    "golive.engine.commands",
    "golive.actions",
    "golive.cli.live",
    "asyncssh",
    "fastapi",
    "scipy",
)


def test_the_operator_commands_import_no_event_loop() -> None:
    """asyncio comes only with SQLAlchemy (2.1 imports it), once the store opens."""
    loaded = imported_after("import golive.cli.operator_commands\nimport golive.engine.operator")
    assert "asyncio" not in loaded
    assert "sqlalchemy" not in loaded


def test_golive_gate_done_and_decide_load_neither_the_runner_nor_the_actions(
    tmp_path: Path,
) -> None:
    from golive.engine import events as ev
    from golive.plan.starter import render_starter
    from golive.store import open_store

    text = render_starter(
        plan_id="demo", filename="demo.golive.yaml", timezone="UTC", today=dt.date(2026, 12, 1)
    )
    url = f"sqlite:///{tmp_path / 'state.db'}"
    steps = ["deploy", "smoke", "go-no-go", "announce"]
    with open_store(url) as store:
        run = store.create_run(
            plan_id="demo", plan_path="demo.golive.yaml", plan_hash="h", env="staging",
            release=None, rehearsal=True, started_by="you",
        )  # fmt: skip
        started = ev.RunStarted(
            plan_id="demo", plan_path="demo.golive.yaml", plan_hash="h", plan_text=text,
            env="staging", release=None, rehearsal=True, started_by="you", max_parallel=1,
            host="h", pid=1, steps=steps,
        )  # fmt: skip
        for event in [
            started,
            ev.StepStarted(step="go-no-go", attempt=1, kind="gate"),
            ev.StepWaiting(step="go-no-go", who=["you"], what="Go / No-Go"),
            ev.StepStarted(step="announce", attempt=1, kind="manual"),
            ev.StepWaiting(step="announce", who=["you"], what="Post the announcement"),
        ]:
            type_name, step, data = ev.encode(event)
            store.append(run.id, type_name, step=step, data=data)
    commands = [
        ["gate", run.id, "go-no-go", "go", "--as", "you"],
        ["done", run.id, "announce", "--as", "you"],
        ["decide", run.id, "abort", "--as", "you"],
    ]
    code = (
        "import sys\nfrom golive.cli import main\n"
        f"for args in {commands!r}:\n"
        f"    sys.argv = ['golive', *args, '--state', {url!r}]\n"
        "    try:\n        main()\n    except SystemExit as exit:\n"
        "        assert not exit.code, (args, exit.code)\n"
        "print()"
    )
    probe = f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert "voted go at go-no-go" in done.stdout
    assert "announce marked done" in done.stdout
    assert "abort recorded" in done.stdout
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    loaded = {
        m for m in modules for name in NOT_FOR_OPERATOR if m == name or m.startswith(name + ".")
    }
    assert not loaded, sorted(loaded)


def test_every_command_is_named_where_it_is_loaded_from() -> None:
    """A command missing from COMMANDS would still run (an unknown name loads every module),
    but slowly: each is listed with its module."""
    register()
    commands = typer.main.get_group(app).commands
    assert set(commands) == set(COMMANDS)
    for name, command in commands.items():
        callback = command.callback
        if callback is not None and name not in ("user", "token"):
            assert callback.__module__ == f"golive.cli.{COMMANDS[name]}", name
    assert set(COMMANDS.values()) <= set(MODULES)


def test_help_lists_every_command_and_a_typo_gets_a_suggestion() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "golive", "--help"], capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0
    for name in COMMANDS:
        assert f"  {name}" in listed.stdout, name
    typo = subprocess.run(
        [sys.executable, "-m", "golive", "statu"], capture_output=True, text=True, timeout=120
    )
    assert typo.returncode == 2
    assert "status" in typo.stderr
