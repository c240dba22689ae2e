"""A whole stack of its own with streaming standbys, for the suites that stop its parts:
primary, standby, command service, two query instances reading the standby, a gateway,
started by the launcher's code on free ports near the test stack's and removed at the end.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from stack.config import StackConfig, throwaway_state_dir
from stack.system import System
from tests.contract.helpers import free_from


@contextmanager
def replicated_stack(
    base: StackConfig, *, port_offset: int, apply_delay_ms: int = 0
) -> Iterator[System]:
    """A running stack with one standby (replay held back `apply_delay_ms`), its ports
    from the test stack's own + `port_offset` on (query instances + `port_offset` + 10),
    so two suites given different offsets never reach for the same ports."""
    state_dir = throwaway_state_dir("jobs-replicated-test-")
    config = dataclasses.replace(
        StackConfig.for_tests(),
        state_dir=state_dir,
        gateway_port=free_from(base.gateway_port + port_offset, count=1),
        command_port=free_from(base.command_port + port_offset, count=1),
        query_port=free_from(base.query_port + port_offset + 10, count=2),
        postgres_port=free_from(base.postgres_port + port_offset, count=2),
        query_instances=2,
        read_replicas=1,
        standby_apply_delay_ms=apply_delay_ms,
    )
    system = System(config)
    try:
        system.up()
        yield system
    finally:
        system.clean()
        shutil.rmtree(state_dir, ignore_errors=True)
