"""Notification URLs in a plan: checked by parsing them with apprise, without sending anything.

A URL may hold templates (`{{ secrets.SLACK_HOOK }}`): they are checked with a stand-in value,
and rendered with the real one only when a message is delivered (golive.notify.delivery).
"""

from __future__ import annotations

import re
from typing import Any

_TEMPLATE = re.compile(r"\{\{.*?\}\}")
STAND_IN = "placeholder"
EMAIL = re.compile(r"^[^@\s/:]+@[^@\s/:]+\.[^@\s/:]+$")


def quiet_apprise() -> Any:
    """apprise, imported on first use (it is slow to import), its logger kept off stderr: a
    message it logs may carry a URL, so its secrets."""
    import logging
    import warnings

    with warnings.catch_warnings():
        # apprise's PGP helper imports imghdr (deprecated in 3.11); load it quietly, once
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise
        import apprise.utils.pgp

    logger = logging.getLogger("apprise")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return apprise


def url_problem(url: str) -> str | None:
    """Why apprise cannot use `url`, or None when it can."""
    apprise = quiet_apprise()
    candidate = _TEMPLATE.sub(STAND_IN, url.strip())
    if "://" not in candidate:
        return (
            "is not a notification URL (scheme://...; see https://github.com/caronc/apprise/wiki)"
        )
    scheme = candidate.split("://", 1)[0].lower()
    try:
        plugin = apprise.Apprise.instantiate(candidate, suppress_exceptions=True)
    except Exception:  # apprise's plugins raise what they like on odd input
        plugin = None
    if plugin is None:
        return f"apprise cannot use this {scheme}:// URL (unknown service or malformed URL)"
    return None
