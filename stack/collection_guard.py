"""A pytest plugin `make test` loads into every pytest run (`-p stack.collection_guard`):
each path given on the command line must collect at least one test.

pytest's own exit code 5 ("no tests collected") covers a whole run only: a run of several
folders where one collects nothing (its files renamed, a broken `python_files` pattern, a
conftest that skips everything at import) passes as long as another folder collects.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_EMPTY = pytest.StashKey[list[str]]()


def _given_paths(config: pytest.Config) -> list[Path]:
    base = config.invocation_params.dir
    return [(base / arg.split("::", 1)[0]).resolve() for arg in config.args]


# tryfirst: before -k and -m deselect, so a folder whose tests were all deselected on
# purpose still counts as collecting; only a folder that yields no test at all fails.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    collected = [item.path.resolve() for item in items]
    empty = [
        path
        for path in _given_paths(config)
        if not any(found == path or path in found.parents for found in collected)
    ]
    # Recorded, not pytest.exit(): the other folders' tests still run and report.
    config.stash[_EMPTY] = [os.path.relpath(path, config.invocation_params.dir) for path in empty]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    empty = session.config.stash.get(_EMPTY, [])
    if empty:
        print(f"\ncollected no test from: {', '.join(empty)}")
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
