"""The public surface is explicit and guarded (STYLE.md habit 11)."""

from __future__ import annotations

import subprocess
import sys

import tickwork


def test_public_names_are_exactly_these() -> None:
    assert sorted(tickwork.__all__) == [
        "ConfigError",
        "InvalidSpecError",
        "TaskContext",
        "Tickwork",
        "TickworkError",
        "__version__",
    ]
    for name in tickwork.__all__:
        assert getattr(tickwork, name) is not None


def test_readme_import_works_and_the_cli_stays_light() -> None:
    from tickwork import Tickwork  # the README's first line

    assert Tickwork.__name__ == "Tickwork"
    code = "import sys, tickwork.cli; print('sqlalchemy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
