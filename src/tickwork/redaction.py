"""Keeping secrets out of what tickwork records and prints (shadow runs, plans, diffs).

A value is hidden when its name looks secret (contains KEY, SECRET, TOKEN, PASSWORD, PASSWD,
CREDENTIAL or PRIVATE, in any case), and credentials written into URLs
(``scheme://user:password@host``) are hidden in any text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["HIDDEN", "is_secret_name", "redact_env", "redact_text"]

HIDDEN = "***"
_SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE", re.IGNORECASE)
# scheme://[user[:password]]@host -> scheme://***@host
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


def is_secret_name(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def redact_text(text: str) -> str:
    """``text`` with the credentials of every URL in it hidden."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{HIDDEN}@", text)


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment with secret-looking values hidden and URL credentials removed."""
    return {
        name: HIDDEN if is_secret_name(name) else redact_text(value) for name, value in env.items()
    }
