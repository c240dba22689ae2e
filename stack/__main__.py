"""`python -m stack up|down|clean|status|test|openapi|gateway-config|seed|bench|screenshot`:
what the Makefile targets call."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from stack.config import REPO_ROOT, StackConfig
from stack.tools import StackError

if TYPE_CHECKING:
    from stack.system import System


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument(
        "command",
        choices=[
            "up",
            "down",
            "clean",
            "status",
            "test",
            "openapi",
            "gateway-config",
            "seed",
            "bench",
            "screenshot",
        ],
    )
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument(
        "--check", action="store_true", help="openapi, gateway-config: fail if out of date"
    )
    parser.add_argument("--jobs", type=int, default=1_000_000, help="seed: how many jobs")
    parser.add_argument("--force", action="store_true", help="seed: add to existing data")
    parser.add_argument(
        "--set",
        choices=["reads", "replicas"],
        default="reads",
        help="bench: the scenario set (replicas: a stack with QUERY_INSTANCES=2 READ_REPLICAS=1)",
    )
    parser.add_argument("pytest_args", nargs="*", help="test: extra pytest arguments")
    args = parser.parse_args(argv)

    try:
        if args.command == "test":
            from stack.testrun import run_all

            return run_all(args.pytest_args)
        if args.command == "openapi":
            from stack.openapi import build

            return build(check=args.check)
        if args.command == "gateway-config":
            from stack.gateway_config import build as build_gateway_config

            return build_gateway_config(check=args.check)

        from stack.system import System

        system = System(StackConfig.from_env(state_dir=args.state_dir))
        if args.command == "up":
            started = system.up()
            url = system.config.gateway_url
            if started:
                print(f"The jobs API is up: {url}/api/jobs/  (docs: {url}/api/docs/)")
                print(f"State and logs: {system.config.state_dir}. Stop with `make down`.")
                if not ipaddress.ip_address(system.config.gateway_host).is_loopback:
                    print(
                        f"Warning: the gateway listens on {system.config.gateway_listen}, "
                        "beyond this machine, and the API has no authentication: see "
                        "docs/operations.md, Exposing the gateway."
                    )
            else:
                print(f"Already running at {url}/api/jobs/; nothing changed.")
        elif args.command == "down":
            system.down()
            print("Stopped (data kept; `make clean` removes it).")
        elif args.command == "clean":
            system.clean()
            print(f"Stopped and removed {system.config.state_dir}.")
        elif args.command == "seed":
            from stack.seed import seed

            if not system.is_running():
                raise StackError("the stack is not running: `make up` first")
            seed(system.database_url("command"), jobs=args.jobs, force=args.force)
            print(f"Seeded {args.jobs} jobs.")
        elif args.command == "bench":
            from stack.bench import run_bench
            from stack.bench_replicas import run_replica_bench

            if not system.is_running():
                raise StackError("the stack is not running: `make up` and `make seed` first")
            return run_replica_bench(system) if args.set == "replicas" else run_bench(system)
        elif args.command == "screenshot":
            from stack.browser import screenshot

            if not system.is_running():
                raise StackError("the stack is not running: `make up` (and `make seed`) first")
            target = REPO_ROOT / "docs" / "dashboard.png"
            screenshot(system.config.gateway_url, target)
            print(f"Wrote {target.relative_to(REPO_ROOT)}.")
        elif args.command == "status":
            parts = {
                "postgres": system.postgres.is_running(),
                **{name: svc.is_running() for name, svc in system.services.items()},
                "gateway": system.gateway.is_running(),
            }
            ports = {name: f" :{svc.port}" for name, svc in system.services.items()}
            for name, running in parts.items():
                print(f"{name:9} {'running' if running else 'stopped'}{ports.get(name, '')}")
            for service in system.leftover_query_instances():
                print(
                    f"{service.name:9} running :{service.port} "
                    "(beyond QUERY_INSTANCES: the next `make up` stops it)"
                )
            standbys_running = _print_standbys(system)
            return 0 if all(parts.values()) and standbys_running else 3
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _print_standbys(system: System) -> bool:
    """One line per READ_REPLICAS standby: its port, and its replay lag while it streams."""
    standbys = system.standbys.wanted
    if not standbys:
        return True
    lags = {}
    if system.postgres.is_running():
        with contextlib.suppress(Exception):
            lags = system.standbys.lag()
    for standby in standbys:
        running = standby.is_running()
        line = f"standby {standby.number} {'running' if running else 'stopped'} "
        line += f"(127.0.0.1:{standby.port}, slot {standby.slot}"
        lag = lags.get(standby.number)
        if lag is not None and lag.active:
            seconds = "?" if lag.replay_seconds is None else f"{lag.replay_seconds:.3f} s"
            line += f", replay lag {lag.replay_bytes} bytes, {seconds}"
        elif running:
            line += ", not streaming"
        print(line + ")")
    return all(standby.is_running() for standby in standbys)


if __name__ == "__main__":
    sys.exit(main())
