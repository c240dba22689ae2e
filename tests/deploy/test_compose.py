"""compose.yaml, checked without a Docker engine.

Structure: the compose-spec package (Python bindings of the compose_spec Rust crate, a
typed model of the Compose Specification) parses the file after the two steps Compose
itself performs first, YAML merge keys and ${VAR} interpolation. Then what the design
asks of the services.
"""

import json
import re
import subprocess
from pathlib import Path

import compose_spec
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RAW = (ROOT / "compose.yaml").read_text()
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in env:
            return env[name]
        if op and op.endswith("?"):
            raise KeyError(f"{name} is required: {arg}")
        return arg or ""

    return INTERPOLATION.sub(replace, text)


COMPOSE = yaml.safe_load(interpolate(RAW, {"SECRET_KEY": "compose-test"}))


def test_compose_file_parses_as_the_compose_specification():
    parsed = compose_spec.PyCompose.from_json(json.dumps(COMPOSE))
    parsed.validate()
    assert parsed.service_names() == [
        "postgres",
        "postgres-standby",
        "migrate",
        "command",
        "query",
        "gateway",
    ]


def test_the_compose_spec_parser_does_reject_an_invalid_file():
    broken = {**COMPOSE, "services": {"a": {"image": "x", "depends_on": {"b": {"condition": "x"}}}}}
    with pytest.raises(ValueError):
        compose_spec.PyCompose.from_json(json.dumps(broken))


def test_secret_key_must_be_given():
    with pytest.raises(KeyError, match="SECRET_KEY"):
        interpolate(RAW, {})


def test_compose_runs_postgres_a_one_shot_migrate_both_services_and_the_gateway():
    services = COMPOSE["services"]
    assert services["gateway"]["image"].startswith("nginx:")
    assert services["migrate"]["restart"] == "no"
    assert "migrate" in services["migrate"]["command"]
    assert "ports" not in services["query"], "the query side scales with --scale query=N"


@pytest.mark.parametrize(
    ("service", "dependency", "condition"),
    [
        ("migrate", "postgres", "service_healthy"),
        ("command", "migrate", "service_completed_successfully"),
        ("query", "migrate", "service_completed_successfully"),
        ("gateway", "command", "service_healthy"),
        ("gateway", "query", "service_healthy"),
    ],
)
def test_services_start_in_order_on_health(service, dependency, condition):
    assert COMPOSE["services"][service]["depends_on"][dependency]["condition"] == condition


def test_every_dependency_is_a_service_of_the_file():
    for service in COMPOSE["services"].values():
        assert set(service.get("depends_on", {})) <= set(COMPOSE["services"])


@pytest.mark.parametrize("service", ["postgres", "postgres-standby", "command", "query", "gateway"])
def test_long_running_services_have_healthchecks(service):
    assert COMPOSE["services"][service]["healthcheck"]["test"]


def test_each_service_connects_with_its_own_role():
    env = {name: COMPOSE["services"][name]["environment"] for name in ("command", "query")}
    assert env["command"]["DATABASE_URL"].startswith("postgres://jobs_command:")
    assert env["query"]["DATABASE_URL"].startswith("postgres://jobs_query:")


def test_mounted_files_exist():
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                # A file, the dashboard's folder, or the gateway's generated fragments.
                path = ROOT / source
                assert (
                    path.is_file()
                    or (path / "index.html").is_file()
                    or (path / "problems.conf").is_file()
                ), source


def test_the_gateway_is_published_on_the_hosts_loopback_only_by_default():
    assert COMPOSE["services"]["gateway"]["ports"] == ["127.0.0.1:8080:8080"]


def test_gateway_host_and_port_choose_where_the_host_publishes_it():
    env = {"SECRET_KEY": "compose-test", "GATEWAY_HOST": "0.0.0.0", "GATEWAY_PORT": "9090"}
    compose = yaml.safe_load(interpolate(RAW, env))
    assert compose["services"]["gateway"]["ports"] == ["0.0.0.0:9090:8080"]


def test_the_published_port_is_the_one_the_gateway_listens_on_in_its_container():
    gateway = COMPOSE["services"]["gateway"]
    container_port = gateway["ports"][0].rsplit(":", 1)[1]
    assert gateway["environment"]["GATEWAY_LISTEN"].rsplit(":", 1)[1] == container_port


def test_nothing_but_the_gateway_is_published():
    """The services and PostgreSQL are reached over compose's own network only."""
    published = {name for name, service in COMPOSE["services"].items() if "ports" in service}
    assert published == {"gateway"}


STANDBY = COMPOSE["services"]["postgres-standby"]


def test_the_standby_is_an_opt_in_profile_of_the_same_image():
    assert STANDBY["profiles"] == ["replicas"]
    assert STANDBY["image"] == COMPOSE["services"]["postgres"]["image"]
    # Every other service runs without a profile: `docker compose up` is unchanged.
    others = [name for name, service in COMPOSE["services"].items() if "profiles" in service]
    assert others == ["postgres-standby"]


def test_the_standby_starts_after_a_healthy_primary_and_is_not_published():
    assert STANDBY["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "ports" not in STANDBY
    assert STANDBY["healthcheck"]["test"]


def test_the_standby_has_its_own_volume_and_the_entrypoint_it_names():
    volumes = [volume.split(":") for volume in STANDBY["volumes"]]
    data = [v for v in volumes if v[1] == STANDBY["environment"]["PGDATA"]]
    assert data == [["pgstandby", "/var/lib/postgresql/data"]]
    assert "pgstandby" in COMPOSE["volumes"]
    primary_volumes = [v.split(":")[0] for v in COMPOSE["services"]["postgres"]["volumes"]]
    assert "pgstandby" not in primary_volumes
    mounts = {target: source for source, target, *_ in volumes}
    assert mounts[STANDBY["entrypoint"][0]] == "./db/standby-entrypoint.sh"


def test_primary_and_standby_share_the_replication_password():
    primary = COMPOSE["services"]["postgres"]["environment"]["JOBS_REPLICATION_PASSWORD"]
    assert STANDBY["environment"]["JOBS_REPLICATION_PASSWORD"] == primary


STANDBY_SCRIPT = (ROOT / "db" / "standby-entrypoint.sh").read_text()


@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize("script", ["standby-entrypoint.sh", "init-roles.sh"])
def test_the_database_scripts_parse(shell, script):
    result = subprocess.run([shell, "-n", str(ROOT / "db" / script)], capture_output=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", ["standby-entrypoint.sh", "init-roles.sh"])
def test_the_database_scripts_are_executable_and_stop_on_errors(script):
    path = ROOT / "db" / script
    assert path.stat().st_mode & 0o111
    assert "\nset -eu\n" in path.read_text()


def test_the_standby_is_made_by_pg_basebackup_with_its_own_slot_and_no_password_argument():
    command = " ".join(STANDBY_SCRIPT.replace("\\\n", " ").split())
    for option in ("-X stream", "-C", '-S "$slot"', "-R", "-U jobs_replication", "-w"):
        assert f" {option} " in command, option
    assert "PGPASSFILE=" in command
    assert "PGPASSWORD" not in STANDBY_SCRIPT
    assert "hot_standby_feedback=on" in command


def test_roles_sql_gives_the_replication_role_its_own_password_variable():
    roles = (ROOT / "db" / "roles.sql").read_text()
    assert "PASSWORD :'replication_password'" in roles
    init = (ROOT / "db" / "init-roles.sh").read_text()
    assert '-v replication_password="$JOBS_REPLICATION_PASSWORD"' in init
    # The reject line first: pg_hba takes the first line that matches.
    assert init.index("all jobs_replication all reject") < init.index('cat "$hba"')


def test_the_query_service_reads_the_standby_only_when_told_which():
    """Off by default (an empty READ_REPLICA_URL is none); QUERY_REPLICA_URL names it, and
    the host of the URL a user is told to give is the standby's service name."""
    assert COMPOSE["services"]["query"]["environment"]["READ_REPLICA_URL"] == ""
    url = "postgres://jobs_query:secret@postgres-standby:5432/jobs"
    told = yaml.safe_load(interpolate(RAW, {"SECRET_KEY": "k", "QUERY_REPLICA_URL": url}))
    assert told["services"]["query"]["environment"]["READ_REPLICA_URL"] == url
    assert "postgres-standby" in told["services"]
    assert "@postgres-standby:5432/jobs" in RAW
