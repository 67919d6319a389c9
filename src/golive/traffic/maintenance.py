"""The include file of a maintenance page: every request nginx proxies through
`$golive_upstream` goes to a small server inside the same nginx, which answers the page with
503 and Retry-After.

    upstream golive_maintenance { server unix:/path/golive-maintenance.sock; }
    server { listen unix:/path/golive-maintenance.sock; root /path/maintenance;
             error_page 503 @golive_page; location / { return 503; } ... }
    map $request_id $golive_upstream { default golive_maintenance; }
    map $request_id $golive_group { default "maintenance"; }

The page's HTML is a file that nginx serves; it never enters the config, so nothing in it can
change what nginx does.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

from golive.plan.models import MaintenanceSpec, NginxSettings
from golive.traffic.nginx import TrafficError

PAGE_NAME = "index.html"
SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes
DEFAULT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Down for maintenance</title></head>
<body><h1>Down for maintenance</h1><p>We will be back shortly. Please try again later.</p></body>
</html>
"""
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/+@,=-]+$")


def page_directory(include: Path, settings: NginxSettings) -> Path:
    """Where the page's file lives: next to the include file (not ending in .conf)."""
    return include.with_name(f"{settings.name}-maintenance")


def socket_path(include: Path, settings: NginxSettings) -> Path:
    """The unix socket of the page's server: next to the include file if the path is short
    enough for a socket, else in the temporary directory under a name derived from it."""
    near = include.with_name(f"{settings.name}-maintenance.sock")
    if len(str(near)) <= SOCKET_PATH_MAX:
        return near
    digest = hashlib.sha256(str(include).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"golive-{digest}.sock"


def _safe(path: Path) -> str:
    text = str(path)
    if not _SAFE_PATH.match(text):
        raise TrafficError(
            f"the maintenance page's path {text!r} has characters nginx would read as syntax: "
            "move the include file to a plain path (letters, digits, . _ - /)"
        )
    return text


def render_maintenance(
    settings: NginxSettings, spec: MaintenanceSpec, *, include: Path, note: str
) -> str:
    """The include file that answers every request with the page (written by `write_page`)."""
    name = settings.name
    socket = _safe(socket_path(include, settings))
    root = _safe(page_directory(include, settings))
    retry = max(int(spec.retry_after.total_seconds()), 0)
    return "\n".join(
        [
            f"# Written by golive ({note}). Do not edit: golive replaces this file at each move.",
            "# Traffic: maintenance page (503) for every request.",
            "",
            f"upstream {name}_maintenance {{",
            f"    server unix:{socket};",
            "}",
            "",
            "server {",
            f"    listen unix:{socket};",
            f"    root {root};",
            "    default_type text/html;",
            "    charset utf-8;",
            "    access_log off;",
            f"    error_page 503 @{name}_page;",
            f"    location @{name}_page {{",  # a named location: no request can ask for it
            f"        try_files /{PAGE_NAME} =500;",
            f"        add_header Retry-After {retry} always;",
            '        add_header Cache-Control "no-store" always;',
            "    }",
            "    location / {",
            "        return 503;",
            "    }",
            "}",
            "",
            f"map $request_id ${name}_upstream {{",
            f"    default {name}_maintenance;",
            "}",
            "",
            f"map $request_id ${name}_group {{",
            '    default "maintenance";',
            "}",
            "",
        ]
    )


def page_text(spec: MaintenanceSpec, *, render_path: Path | None) -> str:
    """The page's HTML: the plan's `page:`, the file of `page_file:`, or a plain default."""
    if spec.page is not None:
        return spec.page
    if render_path is None:
        return DEFAULT_PAGE
    try:
        return render_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrafficError(
            f"cannot read the maintenance page {render_path}: {exc.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise TrafficError(f"the maintenance page {render_path} is not UTF-8 text") from None
