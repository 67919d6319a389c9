"""Templates in shell commands: every value reaches /bin/sh as data, wherever it stands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from golive.plan.shell import Quoting, ShellQuotingError, quoting, shell_command
from golive.plan.template import render, spans

HOSTILE = {
    "semicolon": "1.0; touch pwned; echo",
    "substitution": "$(touch pwned)",
    "backticks": "`touch pwned`",
    "newline": "1.0\ntouch pwned",
    "quotes": "a'b\"c; touch pwned; '\"",
    "backslash": 'x\\"; touch pwned; \\',
}


def filled(text: str, value: str) -> str:
    return render(text, values={"release": value}, namespaces={"vars": {"x": value}})


def sh(script: str, cwd: Path) -> str:
    done = subprocess.run(
        ["/bin/sh", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize(
    ("command", "printed"),
    [
        ("printf '%s|' {{ vars.x }}", "{}|"),
        ('printf "%s|" "v={{ vars.x }}"', "v={}|"),
        ("printf '%s|' \"$(printf '%s' {{ vars.x }})\"", "{}|"),
        ("printf '%s|' `printf '%s' {{ vars.x }}`", None),  # backticks split words: not compared
        ("cat <<EOF\nit's {{ vars.x }}|\nEOF", "it's {}|\n"),
        ("printf '%s|' {{ vars.x }} # {{ vars.x }}", "{}|"),
    ],
    ids=["bare", "double-quoted", "in $( )", "in backticks", "here-document", "comment"],
)
def test_a_hostile_value_runs_nothing_and_arrives_literally(
    command: str, printed: str | None, value: str, tmp_path: Path
) -> None:
    script = shell_command(command, lambda text: filled(text, value)).script()
    out = sh(script, tmp_path)
    assert not (tmp_path / "pwned").exists()
    if printed is not None:
        assert out == printed.format(value)


def test_each_value_is_assigned_once_on_its_own_line_before_the_command() -> None:
    command = shell_command(
        'deploy {{ release }} "to {{ vars.x }}" again {{ release }}',
        lambda text: filled(text, "1.0; x"),
    )
    assert command.assignments == "golive_1='1.0; x'\ngolive_2='1.0; x'\n"
    assert command.body == 'deploy "${golive_1}" "to ${golive_2}" again "${golive_1}"'
    assert command.script(before="cd /srv && ") == (
        command.assignments + 'cd /srv && deploy "${golive_1}" "to ${golive_2}" again "${golive_1}"'
    )


def test_a_command_without_templates_is_left_as_written() -> None:
    command = shell_command("echo 'a;b' | wc -c", lambda text: text)
    assert (command.assignments, command.body) == ("", "echo 'a;b' | wc -c")


@pytest.mark.parametrize(
    ("command", "where"),
    [
        ("echo '{{ vars.x }}'", "single quotes"),
        ("echo \"a 'b\" 'c {{ vars.x }}'", "single quotes"),
        ("cat <<'EOF'\n{{ vars.x }}\nEOF", "a quoted here-document"),
        ('cat <<"END"\n{{ vars.x }}\nEND', "a quoted here-document"),
    ],
)
def test_a_template_inside_single_quotes_is_refused_with_what_to_do(
    command: str, where: str
) -> None:
    with pytest.raises(
        ShellQuotingError, match=f"stands inside {where}.*put it outside the quotes"
    ):
        shell_command(command, lambda text: filled(text, "v"))


def test_raw_pastes_the_value_as_shell_text_on_purpose(tmp_path: Path) -> None:
    command = "{{ raw vars.x }} && echo {{ vars.x }}"
    script = shell_command(command, lambda text: filled(text, "touch made")).script()
    assert sh(script, tmp_path) == "touch made\n"
    assert (tmp_path / "made").exists()
    # in single quotes too: the author said so
    assert shell_command("echo '{{ raw vars.x }}'", lambda t: filled(t, "v")).script() == "echo 'v'"


def test_the_reader_follows_quotes_escapes_substitutions_and_here_documents() -> None:
    text = (
        'a {{ vars.x }} "b {{ vars.x }} $(c {{ vars.x }} \'d\') \\" {{ vars.x }}" '
        "'e \\' {{ vars.x }} <<-EOF\n\tf {{ vars.x }}\n\tEOF\n{{ vars.x }}"
    )
    assert quoting(text, list(spans(text))) == [
        Quoting.none,
        Quoting.double,
        Quoting.none,
        Quoting.double,
        Quoting.none,  # 'e \' closed the single quotes: a backslash does not escape in them
        Quoting.heredoc,
        Quoting.none,
    ]
