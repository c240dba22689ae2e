"""The gateway config, checked by nginx itself (`nginx -t`) with the values both the local
launcher and compose put into it."""

import dataclasses
import json
import re
import subprocess

import pytest
import yaml

from shared.api import problem_types
from shared.api.problem_types import (
    GATEWAY_PROBLEM_TYPES,
    PROBLEM_TYPE_BASE,
    PROBLEM_TYPES,
    RETRY_AFTER_REQUIRED,
)
from shared.api.request_ids import REQUEST_ID_PATTERN
from stack import gateway_config
from stack.config import StackConfig
from stack.gateway_config import GENERATED_DIR
from stack.processes import GATEWAY_DIR, Gateway, render_gateway_config
from stack.tools import StackError, nginx_binary

COMPOSE_GATEWAY = yaml.safe_load((GATEWAY_DIR.parent / "compose.yaml").read_text())["services"][
    "gateway"
]
COMPOSE_GATEWAY_ENV = COMPOSE_GATEWAY["environment"]


def compose_mount_source(container_path: str) -> str:
    """The repository path compose mounts at `container_path` in the gateway's container."""
    for volume in COMPOSE_GATEWAY["volumes"]:
        source, target, *_ = volume.split(":")
        if target == container_path:
            return source
    raise AssertionError(f"compose mounts nothing at {container_path}")


def for_nginx_1_22(servers: str) -> str:
    """Compose's query upstream as nginx 1.22 (this machine's) can parse it: without what
    needs 1.27.3 (`resolver` in an upstream, `resolve` on a server: the compose image's
    nginx has both, test_compose_query_upstream_follows_the_replicas checks they are
    there) and with an address for the service name, which only Docker's DNS knows."""
    servers = re.sub(r"resolver [^;]*;\s*", "", servers)
    servers = servers.replace(" resolve", "").replace("query:8000", "127.0.0.1:18997")
    assert "resolve" not in servers and "query" not in servers, servers
    return servers


def listen_directives(rendered: str) -> list[str]:
    return re.findall(r"^\s*listen\s+([^;]+);", rendered, flags=re.MULTILINE)


def test_local_gateway_config_passes_nginx_t(tmp_path):
    config = StackConfig.for_tests()
    gateway = Gateway(dataclasses.replace(config, state_dir=tmp_path))
    result = gateway.test_config()
    assert result.returncode == 0, result.stderr


def test_compose_sets_every_placeholder_of_the_template_and_the_launcher_too(tmp_path):
    placeholders = set(
        re.findall(r"\$\{([A-Z_]+)\}", (GATEWAY_DIR / "default.conf.template").read_text())
    )
    assert placeholders == set(COMPOSE_GATEWAY_ENV)
    config = dataclasses.replace(StackConfig.for_tests(), state_dir=tmp_path)
    assert not re.search(r"\$\{[A-Z_]+\}", render_gateway_config(config))


@pytest.mark.parametrize("cache_seconds", ["0", "5"])
def test_compose_style_rendering_passes_nginx_t(tmp_path, cache_seconds):
    """What the official image does: envsubst the template into an http{} include, which
    includes the generated files compose mounts (here: where they come from); with the
    gateway cache off (compose's default) and on."""
    template = (GATEWAY_DIR / "default.conf.template").read_text()
    generated = GATEWAY_DIR.parent / compose_mount_source(
        COMPOSE_GATEWAY_ENV["GATEWAY_GENERATED_DIR"]
    )
    for name, value in {
        # compose's own value: nginx -t parses `listen` without binding it.
        "GATEWAY_LISTEN": COMPOSE_GATEWAY_ENV["GATEWAY_LISTEN"],
        "COMMAND_UPSTREAM": "127.0.0.1:18998",
        "QUERY_UPSTREAM_SERVERS": for_nginx_1_22(COMPOSE_GATEWAY_ENV["QUERY_UPSTREAM_SERVERS"]),
        "GATEWAY_ACCESS_LOG": "/dev/stdout",
        "GATEWAY_RATE_LIMIT": "100",
        "GATEWAY_RATE_BURST": "200",
        "GATEWAY_UPSTREAM_TIMEOUT": "30s",
        "DASHBOARD_ROOT": "/usr/share/nginx/dashboard",
        "GATEWAY_GENERATED_DIR": str(generated.resolve()),
        "GATEWAY_CACHE_SECONDS": cache_seconds,
        # compose's folder is in the image; nginx -t creates its cache folder.
        "GATEWAY_CACHE_DIR": str(tmp_path / "cache"),
    }.items():
        template = template.replace("${" + name + "}", value)
    (tmp_path / "default.conf").write_text(template)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {tmp_path}/default.conf;\n}}\n"
    )
    result = subprocess.run(
        [str(nginx_binary()), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_local_gateway_listens_on_loopback_only_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("GATEWAY_HOST", raising=False)
    monkeypatch.setenv("GATEWAY_PORT", "18123")
    config = StackConfig.from_env(state_dir=tmp_path)
    assert listen_directives(render_gateway_config(config)) == ["127.0.0.1:18123"]
    assert config.gateway_url == "http://127.0.0.1:18123"


def test_the_test_stacks_gateway_listens_on_loopback_only_by_default(monkeypatch):
    monkeypatch.delenv("TEST_GATEWAY_HOST", raising=False)
    config = StackConfig.for_tests()
    assert listen_directives(render_gateway_config(config)) == [f"127.0.0.1:{config.gateway_port}"]


@pytest.mark.parametrize(
    ("host", "listen", "url_host"),
    [
        ("0.0.0.0", "0.0.0.0:18123", "127.0.0.1"),
        ("192.0.2.10", "192.0.2.10:18123", "192.0.2.10"),
        ("::", "[::]:18123", "[::1]"),
        ("[::1]", "[::1]:18123", "[::1]"),
    ],
)
def test_gateway_host_sets_the_listen_address(monkeypatch, tmp_path, host, listen, url_host):
    monkeypatch.setenv("GATEWAY_HOST", host)
    monkeypatch.setenv("GATEWAY_PORT", "18123")
    config = StackConfig.from_env(state_dir=tmp_path)
    assert listen_directives(render_gateway_config(config)) == [listen]
    # The launcher's own checks reach it where it listens.
    assert config.gateway_url == f"http://{url_host}:18123"


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_an_exposed_gateway_config_passes_nginx_t(monkeypatch, tmp_path, host):
    """(nginx -t binds a specific address to test it, so only the wildcards are checked.)"""
    monkeypatch.setenv("GATEWAY_HOST", host)
    result = Gateway(StackConfig.from_env(state_dir=tmp_path)).test_config()
    assert result.returncode == 0, result.stderr


def test_gateway_host_must_be_an_ip_address(monkeypatch, tmp_path):
    monkeypatch.setenv("GATEWAY_HOST", "jobs.example")
    with pytest.raises(StackError, match=r"GATEWAY_HOST='jobs\.example' is not an IP address"):
        StackConfig.from_env(state_dir=tmp_path)


def test_compose_renders_a_gateway_listening_on_every_interface_of_its_container():
    """Docker's published port arrives on the container's own interface, not its loopback;
    what the host exposes is decided by compose's `ports` (see test_compose)."""
    assert COMPOSE_GATEWAY_ENV["GATEWAY_LISTEN"] == "0.0.0.0:8080"


def _problem_returns(text: str) -> list[tuple[str, str]]:
    return re.findall(r"return (\d{3}) '(\{.*?\})\\n';", text)


def _gateway_problems() -> list[tuple[int, dict]]:
    """Each problem document the gateway writes itself: (status returned, body)."""
    found = []
    for status, body in _problem_returns((GENERATED_DIR / "problems.conf").read_text()):
        # nginx variables stand where strings are: any string will do for the shape.
        found.append((int(status), json.loads(re.sub(r"\$\w+", "x", body))))
    return found


def test_the_template_writes_no_problem_document_by_hand():
    template = (GATEWAY_DIR / "default.conf.template").read_text()
    assert not _problem_returns(template)
    assert not re.search(r"^\s*(error_page|default_type)\s", template, flags=re.MULTILINE)


def test_every_problem_the_gateway_writes_is_of_the_one_catalogue():
    catalogue = {slug: title for slug, title in PROBLEM_TYPES.values()}
    catalogue.update(GATEWAY_PROBLEM_TYPES)
    problems = _gateway_problems()
    assert len(problems) >= 15
    for status, body in problems:
        slug = body["type"].removeprefix(PROBLEM_TYPE_BASE)
        assert catalogue.get(slug) == body["title"], (slug, body["title"])
        assert body["status"] == status
        assert set(body) == {"type", "title", "status", "detail", "instance", "request_id"}


def test_the_statuses_with_retry_after_are_those_the_description_names():
    rules = (GENERATED_DIR / "retry_after.map").read_text()
    always = re.search(r'^"~\^\(([\d|]+)\):"\s+1;$', rules, flags=re.MULTILINE)
    assert always, "the Retry-After map changed: update this test"
    described = {int(code) for code, required in RETRY_AFTER_REQUIRED.items() if required}
    assert {int(code) for code in always[1].split("|")} == described
    assert '"~^(503):' in rules and RETRY_AFTER_REQUIRED["503"] is False


def test_the_gateway_keeps_a_clients_request_id_by_the_services_rule():
    """nginx's config cannot import the services' REQUEST_ID_PATTERN, so its copy is held to
    it here: an id one side keeps and the other replaces would split a request's logs."""
    template = (GATEWAY_DIR / "default.conf.template").read_text()
    [pattern] = re.findall(r'map \$http_x_request_id \$jobs_request_id \{\s*"~([^"]+)"', template)
    assert pattern == REQUEST_ID_PATTERN.pattern


def test_the_launcher_generates_the_gateway_fragments_when_it_renders_its_config(
    tmp_path, monkeypatch
):
    """From the catalogue as it is now, not the committed copy (compose's)."""
    monkeypatch.setitem(
        problem_types.GATEWAY_PROBLEM_TYPES, "request-timeout", "Request timeout (renamed)"
    )
    config = dataclasses.replace(StackConfig.for_tests(), state_dir=tmp_path)
    rendered = render_gateway_config(config)
    generated = tmp_path / "nginx" / "generated"
    assert f'include "{generated}/' in rendered
    assert {path.name: path.read_text() for path in generated.iterdir()} == gateway_config.render()
    assert "Request timeout (renamed)" in (generated / "problems.conf").read_text()


def upstream_servers(rendered: str, name: str) -> list[str]:
    [block] = re.findall(r"upstream " + name + r" \{(.*?)\}", rendered, flags=re.DOTALL)
    return re.findall(r"\bserver\s+([^;]+);", block)


def test_the_gateway_balances_over_every_query_instance(monkeypatch, tmp_path):
    monkeypatch.setenv("QUERY_PORT", "18502")
    monkeypatch.setenv("QUERY_INSTANCES", "3")
    config = StackConfig.from_env(state_dir=tmp_path)
    rendered = render_gateway_config(config)
    assert upstream_servers(rendered, "jobs_query") == [
        f"127.0.0.1:{port} max_fails=1 fail_timeout=2s" for port in (18502, 18503, 18504)
    ]
    # Writes have one server to go to.
    assert upstream_servers(rendered, "jobs_command") == [f"127.0.0.1:{config.command_port}"]
    result = Gateway(config).test_config()
    assert result.returncode == 0, result.stderr


def test_one_query_instance_is_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv("QUERY_INSTANCES", raising=False)
    config = StackConfig.from_env(state_dir=tmp_path)
    assert upstream_servers(render_gateway_config(config), "jobs_query") == [
        f"127.0.0.1:{config.query_port} max_fails=1 fail_timeout=2s"
    ]


@pytest.mark.parametrize("value", ["0", "17", "two", "-1", "1.5"])
def test_query_instances_must_be_an_integer_from_1_to_16(monkeypatch, tmp_path, value):
    monkeypatch.setenv("QUERY_INSTANCES", value)
    with pytest.raises(StackError, match=rf"QUERY_INSTANCES='{re.escape(value)}' .* from 1 to 16"):
        StackConfig.from_env(state_dir=tmp_path)


def test_a_query_instance_may_not_take_another_parts_port(monkeypatch, tmp_path):
    monkeypatch.setenv("QUERY_PORT", "18502")
    monkeypatch.setenv("COMMAND_PORT", "18504")
    monkeypatch.setenv("QUERY_INSTANCES", "3")
    with pytest.raises(StackError, match=r"COMMAND_PORT=18504 is the port of query instance 2"):
        StackConfig.from_env(state_dir=tmp_path)


def test_reads_are_retried_on_another_instance_and_writes_never(tmp_path):
    """Every location that proxies retries only a refused or dropped connection (and
    nginx's 502-class answers), never a 503 from a service: the database-unavailable one
    would be the same on every instance, and a query-timeout would take as long again."""
    config = dataclasses.replace(StackConfig.for_tests(), state_dir=tmp_path)
    rendered = render_gateway_config(config)
    server_level = re.split(r"^\s*location ", rendered, maxsplit=1, flags=re.MULTILINE)[0]
    assert re.search(r"^\s*proxy_next_upstream off;", server_level, flags=re.MULTILINE)
    assert "proxy_next_upstream_tries 2;" in server_level
    assert "proxy_next_upstream_timeout 5s;" in server_level
    locations = re.split(r"^\s*location ", rendered, flags=re.MULTILINE)[1:]
    proxying = [location for location in locations if "proxy_pass" in location]
    assert len(proxying) == 6
    for location in proxying:
        [rule] = re.findall(r"proxy_next_upstream ([^;]+);", location)
        assert rule == "error timeout http_502", location
    assert not re.search(r"^\s*proxy_next_upstream [^;]*non_idempotent", rendered, re.MULTILINE)


def test_compose_query_upstream_follows_the_replicas():
    """`--scale query=N`: the upstream names the service, and nginx re-resolves it at
    Docker's DNS, which needs nginx 1.27.3 or later in the image."""
    servers = COMPOSE_GATEWAY_ENV["QUERY_UPSTREAM_SERVERS"]
    assert re.search(r"\bresolver 127\.0\.0\.11 valid=5s\b", servers)
    assert re.search(r"\bserver query:8000 resolve\b", servers)
    version = COMPOSE_GATEWAY["image"].removeprefix("nginx:")
    assert tuple(int(part) for part in version.split(".")) >= (1, 27, 3), version
    template = (GATEWAY_DIR / "default.conf.template").read_text()
    [block] = re.findall(r"upstream jobs_query \{(.*?)\}", template, flags=re.DOTALL)
    # `resolve` keeps its addresses in the upstream's shared zone.
    assert re.search(r"^\s*zone jobs_query \d+k;", block, flags=re.MULTILINE)


def _locations(rendered: str) -> dict[str, str]:
    """Each location block of the server, by what follows `location`."""
    blocks = re.split(r"^\s*location ", rendered, flags=re.MULTILINE)[1:]
    return {block.split("{", 1)[0].strip(): block for block in blocks}


def test_the_gateway_cache_is_used_by_the_list_the_summary_and_the_stats_only(tmp_path):
    config = dataclasses.replace(StackConfig.for_tests(), state_dir=tmp_path)
    rendered = render_gateway_config(config)
    caching = {
        where: re.findall(r"^\s*proxy_cache ([^;]+);", block, flags=re.MULTILINE)
        for where, block in _locations(rendered).items()
    }
    assert {where: zone for where, zone in caching.items() if zone} == {
        "= /api/jobs/": ["$jobs_cache_zone"],
        "= /api/jobs/summary/": ["$jobs_cache_zone"],
        "= /api/jobs/stats/": ["$jobs_cache_zone"],
    }
    # Its files live in the launcher's state folder, like the gateway's other files.
    assert re.search(rf'proxy_cache_path "{re.escape(str(tmp_path))}/nginx/cache" ', rendered)


def test_the_gateway_cache_keeps_only_a_200_and_never_serves_stale(tmp_path):
    config = dataclasses.replace(
        StackConfig.for_tests(), state_dir=tmp_path, gateway_cache_seconds=7
    )
    rendered = render_gateway_config(config)
    assert re.findall(r"proxy_cache_valid ([^;]+);", rendered) == ["200 7s"]
    # A service's own caching headers do not lengthen (or shorten) what the gateway keeps.
    assert "proxy_ignore_headers Cache-Control Expires X-Accel-Expires;" in rendered
    assert "proxy_cache_use_stale off;" in rendered
    assert "proxy_cache_background_update off;" in rendered
    assert "proxy_cache_lock on;" in rendered
    assert "proxy_cache_revalidate on;" in rendered
    assert 'proxy_cache_key "$http_host$request_uri";' in rendered


@pytest.mark.parametrize(("seconds", "zone"), [(0, "off"), (1, "jobs_pages"), (60, "jobs_pages")])
def test_gateway_cache_seconds_0_turns_the_cache_off(tmp_path, seconds, zone):
    config = dataclasses.replace(
        StackConfig.for_tests(), state_dir=tmp_path, gateway_cache_seconds=seconds
    )
    [block] = re.findall(
        rf'map "{seconds}" \$jobs_cache_enabled \{{(.*?)\}}',
        render_gateway_config(config),
        flags=re.DOTALL,
    )
    rules = dict(re.findall(r'^\s*("~\^0\+\$"|default) (\w+);', block, flags=re.MULTILINE))
    expected = rules['"~^0+$"'] if re.fullmatch(r"0+", str(seconds)) else rules["default"]
    assert expected == zone


def test_gateway_cache_seconds_is_off_unless_set(monkeypatch, tmp_path):
    monkeypatch.delenv("GATEWAY_CACHE_SECONDS", raising=False)
    monkeypatch.delenv("TEST_GATEWAY_CACHE_SECONDS", raising=False)
    assert StackConfig.from_env(state_dir=tmp_path).gateway_cache_seconds == 0
    assert StackConfig.for_tests().gateway_cache_seconds == 0
    assert COMPOSE_GATEWAY_ENV["GATEWAY_CACHE_SECONDS"] == "${GATEWAY_CACHE_SECONDS:-0}"
    monkeypatch.setenv("GATEWAY_CACHE_SECONDS", "1")
    assert StackConfig.from_env(state_dir=tmp_path).gateway_cache_seconds == 1


@pytest.mark.parametrize("value", ["61", "one", "-1", "0.5"])
def test_gateway_cache_seconds_must_be_a_whole_number_from_0_to_60(monkeypatch, tmp_path, value):
    monkeypatch.setenv("GATEWAY_CACHE_SECONDS", value)
    with pytest.raises(
        StackError, match=rf"GATEWAY_CACHE_SECONDS='{re.escape(value)}' .* from 0 to 60"
    ):
        StackConfig.from_env(state_dir=tmp_path)
