"""An ansible stdout callback that writes one JSON object a line, for golive's `ansible` steps.

Events: {"event": "task", "task": NAME}, {"event": "ok"|"changed"|"failed"|"skipped"|
"unreachable", "host": H, "task": NAME, "msg": TEXT}, and at the end {"event": "stats",
"hosts": {H: {"ok": N, "changed": N, "failed": N, "unreachable": N, "skipped": N}}}.
Loaded by ansible-playbook from ANSIBLE_CALLBACK_PLUGINS, never imported by golive itself.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ansible.plugins.callback import CallbackBase  # type: ignore[import-untyped,import-not-found,unused-ignore]

DOCUMENTATION = """
    name: golive_jsonl
    type: stdout
    short_description: JSON lines for golive
    description: One JSON object a line on stdout, read by golive's ansible steps.
"""


def _emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields, default=str) + "\n")
    sys.stdout.flush()


def _message(result: dict[str, Any]) -> str:
    for key in ("msg", "stderr", "reason"):
        value = result.get(key)
        if value:
            return str(value).strip().splitlines()[-1][:500]
    return ""


class CallbackModule(CallbackBase):  # type: ignore[misc,unused-ignore]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "golive_jsonl"

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        _emit(event="task", task=task.get_name())

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        _emit(event="task", task=task.get_name())

    def _host(self, event: str, result: Any) -> None:
        _emit(
            event=event,
            host=result._host.get_name(),
            task=result._task.get_name(),
            msg=_message(result._result),
        )

    def v2_runner_on_ok(self, result: Any) -> None:
        self._host("changed" if result._result.get("changed") else "ok", result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._host("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._host("unreachable", result)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._host("skipped", result)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        hosts = {}
        for host in sorted(stats.processed):
            summary = stats.summarize(host)
            hosts[host] = {
                "ok": summary["ok"],
                "changed": summary["changed"],
                "failed": summary["failures"],
                "unreachable": summary["unreachable"],
                "skipped": summary["skipped"],
            }
        _emit(event="stats", hosts=hosts)
