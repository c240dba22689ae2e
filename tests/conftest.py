"""What every suite that drives the running test stack shares."""

from __future__ import annotations

import pytest

from stack.config import StackConfig
from stack.system import System


@pytest.fixture(scope="session")
def system() -> System:
    """The stack `make test` started; a run without it stops at once with what to do."""
    system = System(StackConfig.for_tests())
    if not system.is_running():
        pytest.exit("the test stack is not running: run these tests with `make test`", 2)
    return system
