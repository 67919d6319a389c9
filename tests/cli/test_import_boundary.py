"""The command line starts without the heavy libraries: each command loads what it uses.

`golive status` is typed by a person waiting on a go-live call; importing the web app, scipy or
asyncssh for it would cost a second (bench/cli_startup.py times it).
"""

from __future__ import annotations

import json
import subprocess
import sys

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


def test_the_module_of_status_imports_no_heavy_library() -> None:
    loaded = imported_after("import golive.cli.run_commands")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


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
