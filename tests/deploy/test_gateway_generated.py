"""gateway/generated/: what it is generated from, and the check that `make test` runs to
fail when a committed file is stale (stack/gateway_config.py)."""

import dataclasses
import re
import shutil

import pytest
import yaml

from shared.api import problem_types
from stack import gateway_config
from stack.gateway_config import DESCRIPTION_PATH, GENERATED_DIR, build

COMPOSE = yaml.safe_load((GENERATED_DIR.parents[1] / "compose.yaml").read_text())


@pytest.fixture
def committed_copy(tmp_path):
    """A copy of the committed fragments, to spoil."""
    copy = tmp_path / "generated"
    shutil.copytree(GENERATED_DIR, copy)
    return copy


def test_the_check_passes_on_the_committed_files_and_a_copy_of_them(committed_copy):
    assert build(check=True) == 0
    assert build(check=True, directory=committed_copy) == 0


@pytest.mark.parametrize(
    ("name", "committed", "edited"),
    [
        ("problems.conf", '"title":"Not found"', '"title":"Not there"'),
        ("allow.map", '"GET, HEAD, OPTIONS"', '"GET, OPTIONS"'),
        ("retry_after.map", "(409|429|502)", "(409|429)"),
    ],
)
def test_the_check_fails_on_a_fragment_edited_by_hand(
    committed_copy, capsys, name, committed, edited
):
    fragment = committed_copy / name
    assert committed in fragment.read_text()
    fragment.write_text(fragment.read_text().replace(committed, edited, 1))
    assert build(check=True, directory=committed_copy) == 1
    assert f"generated/{name}:" in capsys.readouterr().err


def test_the_check_fails_on_a_missing_fragment_and_on_a_leftover_one(committed_copy, capsys):
    (committed_copy / "allow.map").unlink()
    assert build(check=True, directory=committed_copy) == 1
    assert "allow.map: missing" in capsys.readouterr().err

    shutil.copy(GENERATED_DIR / "allow.map", committed_copy)
    (committed_copy / "methods.conf").write_text("# an older layout\n")
    assert build(check=True, directory=committed_copy) == 1
    assert "methods.conf: not generated any more" in capsys.readouterr().err


def test_regenerating_repairs_a_stale_folder(committed_copy):
    (committed_copy / "problems.conf").write_text("# edited\n")
    (committed_copy / "leftover.conf").write_text("# edited\n")
    assert build(directory=committed_copy) == 0
    assert build(check=True, directory=committed_copy) == 0
    assert sorted(path.name for path in committed_copy.iterdir()) == sorted(
        path.name for path in GENERATED_DIR.iterdir()
    )


def test_a_new_title_in_the_catalogue_makes_the_committed_problems_stale(monkeypatch, capsys):
    titles = {**problem_types.GATEWAY_PROBLEM_TYPES, "bad-gateway": "Upstream unreachable"}
    monkeypatch.setattr(problem_types, "GATEWAY_PROBLEM_TYPES", titles)
    assert build(check=True) == 1
    diff = capsys.readouterr().err
    assert '"title":"Upstream unreachable"' in diff
    assert diff.count("\n+    return 502 '") == 1


def test_a_new_retry_after_rule_in_the_catalogue_makes_the_committed_rules_stale(monkeypatch):
    monkeypatch.setattr(
        problem_types, "RETRY_AFTER_REQUIRED", {**problem_types.RETRY_AFTER_REQUIRED, "504": True}
    )
    assert build(check=True) == 1
    assert '"~^(409|429|502|504):" 1;' in gateway_config.render()["retry_after.map"]


def test_a_method_added_to_the_description_makes_the_committed_methods_stale(tmp_path):
    description = yaml.safe_load(DESCRIPTION_PATH.read_text())
    summary = description["paths"]["/api/jobs/summary/"]
    summary["delete"] = summary["get"]
    changed = tmp_path / "openapi.yaml"
    changed.write_text(yaml.safe_dump(description))
    assert build(check=True, description_path=changed) == 1
    assert (
        '"~^/api/jobs/summary/$"         "GET, HEAD, DELETE, OPTIONS";'
        in (gateway_config.render(changed)["allow.map"])
    )


def _committed_allow() -> dict[str, str]:
    text = (GENERATED_DIR / "allow.map").read_text()
    return dict(re.findall(r'^"~\^(\S+)\$"\s+"([A-Z, ]+)";$', text, flags=re.MULTILINE))


def test_each_path_of_the_description_allows_its_operations_and_options_nothing_else():
    description = yaml.safe_load(DESCRIPTION_PATH.read_text())
    expected = {
        re.sub(r"\{job_id\}", "[0-9]+", path): {method.upper() for method in operations}
        | {"OPTIONS"}
        for path, operations in description["paths"].items()
    }
    committed = {path: set(allow.split(", ")) for path, allow in _committed_allow().items()}
    assert committed == expected
    assert "PATCH" in committed["/api/jobs/[0-9]+/"]


def test_a_path_parameter_of_an_unknown_type_stops_the_generator(tmp_path):
    description = yaml.safe_load(DESCRIPTION_PATH.read_text())
    for operation in description["paths"]["/api/jobs/{job_id}/"].values():
        for parameter in operation["parameters"]:
            if parameter["in"] == "path":
                parameter["schema"] = {"type": "string"}
    changed = tmp_path / "openapi.yaml"
    changed.write_text(yaml.safe_dump(description))
    with pytest.raises(ValueError, match="no URI pattern for a parameter of type string"):
        gateway_config.render(changed)


def test_every_problem_type_of_the_gateway_alone_is_one_it_answers():
    answered = {problem.slug for problem in gateway_config.GATEWAY_PROBLEMS}
    assert set(problem_types.GATEWAY_PROBLEM_TYPES) <= answered
    assert answered <= set(gateway_config.catalogue_titles())


def test_each_status_nginx_answers_has_one_problem_page():
    statuses = [
        status
        for problem in gateway_config.GATEWAY_PROBLEMS
        for status in (problem.nginx_status, *problem.aliases)
    ]
    assert len(statuses) == len(set(statuses))
    handled = re.findall(
        r"^error_page ((?:\d+ )+)", (GENERATED_DIR / "problems.conf").read_text(), re.M
    )
    assert sorted(int(code) for line in handled for code in line.split()) == sorted(statuses)


def test_a_detail_nginx_would_misread_is_refused():
    quoted = dataclasses.replace(gateway_config.GATEWAY_PROBLEMS[0], detail="it's")
    with pytest.raises(ValueError, match="nginx string"):
        gateway_config._nginx_string(gateway_config.problem_document(quoted))
    escaped = dataclasses.replace(gateway_config.GATEWAY_PROBLEMS[0], detail='say "hi"')
    with pytest.raises(ValueError, match="nginx string"):
        gateway_config._nginx_string(gateway_config.problem_document(escaped))


def test_compose_mounts_the_fragments_where_envsubst_never_reads_them():
    """The image runs envsubst on templates/ only; the fragments' $names are nginx's."""
    gateway = COMPOSE["services"]["gateway"]
    target = gateway["environment"]["GATEWAY_GENERATED_DIR"]
    assert f"./gateway/generated:{target}:ro" in gateway["volumes"]
    assert not target.startswith("/etc/nginx/templates")
    for fragment in GENERATED_DIR.iterdir():
        assert "${" not in fragment.read_text(), fragment.name
    assert '"request_id":"$jobs_request_id"' in (GENERATED_DIR / "problems.conf").read_text()
