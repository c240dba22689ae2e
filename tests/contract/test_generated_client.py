"""The README's flows through a client generated from the description, as its users make one.

openapi-python-client (a dev dependency) writes the client into a temporary folder at test
time, refusing any part of the description it cannot use (--fail-on-warning); nothing
generated is committed. The client's httpx calls go through the contract checker, so what
it sends is validated against the description as well as what it gets back.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import typing
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from stack.openapi import DESCRIPTION_PATH

PACKAGE = "generated_jobs_client"
MODULES = (
    "jobs_create",
    "jobs_delete",
    "jobs_list",
    "jobs_list_head",
    "jobs_retrieve",
    "jobs_retrieve_head",
    "jobs_stats",
    "jobs_stats_head",
    "jobs_status_append",
    "jobs_statuses_list",
    "jobs_statuses_list_head",
    "jobs_summary",
    "jobs_summary_head",
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The generated package: `client` (its Client class), `models`, and one module per
    operation, as `generated.jobs_list` and so on."""
    folder = tmp_path_factory.mktemp("generated-client")
    config = folder / "config.yaml"
    # Its default post hooks run ruff from PATH to format the code; nobody reads it here.
    config.write_text("post_hooks: []\n")
    # Run as a module of this interpreter: the venv's bin need not be on PATH.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(DESCRIPTION_PATH),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        api = f"{PACKAGE}.api.jobs"
        yield SimpleNamespace(
            client=importlib.import_module(PACKAGE).Client,
            models=importlib.import_module(f"{PACKAGE}.models"),
            **{name: importlib.import_module(f"{api}.{name}") for name in MODULES},
        )
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture
def client(generated: SimpleNamespace, system, contract) -> Iterator[object]:
    """The generated Client on the gateway, every exchange checked against the contract."""
    with generated.client(
        base_url=system.config.gateway_url,
        timeout=10,
        raise_on_unexpected_status=True,
        httpx_args={"event_hooks": {"response": [contract.check]}},
    ) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(generated: SimpleNamespace, client: object, name: str) -> Any:
    response = generated.jobs_create.sync_detailed(
        client=client, body=generated.models.JobCreateInputRequest(name=name)
    )
    assert response.status_code == HTTPStatus.CREATED, response.content
    return response.parsed


def cursor_of(link: str) -> str:
    """The opaque cursor of a next/previous link: all a generated call needs of it."""
    return parse_qs(urlsplit(link).query)["cursor"][0]


def test_create_append_history_conditional_get_and_delete(generated, client):
    models = generated.models
    created = generated.jobs_create.sync_detailed(
        client=client, body=models.JobCreateInputRequest(name=unique("generated"))
    )
    assert created.status_code == HTTPStatus.CREATED
    job = created.parsed
    assert isinstance(job, models.Job)
    assert job.current_status_type == models.JobStatusTypeEnum.PENDING
    assert created.headers["Location"] == f"/api/jobs/{job.id}/"

    running = generated.jobs_status_append.sync(
        job.id,
        client=client,
        body=models.JobUpdateInputRequest(status_type=models.JobStatusTypeEnum.RUNNING),
    )
    assert isinstance(running, models.Job)
    assert running.current_status_type == models.JobStatusTypeEnum.RUNNING

    history = generated.jobs_statuses_list.sync(job.id, client=client)
    assert isinstance(history, models.JobStatusPage)
    assert [event.status_type for event in history.results] == [
        models.JobStatusTypeEnum.RUNNING,
        models.JobStatusTypeEnum.PENDING,
    ]

    fetched = generated.jobs_retrieve.sync_detailed(job.id, client=client)
    assert fetched.parsed == running
    unchanged = generated.jobs_retrieve.sync_detailed(
        job.id, client=client, if_none_match=fetched.headers["ETag"]
    )
    assert unchanged.status_code == HTTPStatus.NOT_MODIFIED and unchanged.content == b""

    deleted = generated.jobs_delete.sync_detailed(job.id, client=client)
    assert deleted.status_code == HTTPStatus.NO_CONTENT
    gone = generated.jobs_retrieve.sync(job.id, client=client)
    assert isinstance(gone, models.Problem)
    assert (gone.status, gone.type_) == (404, "https://jobs.example/problems/not-found")


def test_list_filters_by_status_in_both_forms_searches_and_orders(generated, client):
    models = generated.models
    marker = unique("generated-list")
    ids = [create(generated, client, f"{marker}-{n}").id for n in range(4)]
    for job_id, status in zip(ids[:2], ("RUNNING", "FAILED"), strict=True):
        generated.jobs_status_append.sync(
            job_id,
            client=client,
            body=models.JobUpdateInputRequest(status_type=models.JobStatusTypeEnum(status)),
        )

    newest_first = generated.jobs_list.sync(client=client, search=marker.upper())
    assert [job.id for job in newest_first.results] == ids[::-1]
    by_id = generated.jobs_list.sync(
        client=client, search=marker, ordering=models.JobsListOrdering.ID
    )
    assert [job.id for job in by_id.results] == ids
    # `status=RUNNING&status=FAILED` (what the client makes of a list) and the comma form.
    for statuses in (["RUNNING", "FAILED"], ["RUNNING,FAILED"]):
        page = generated.jobs_list.sync(
            client=client,
            search=marker,
            status=statuses,
            ordering=models.JobsListOrdering.CREATED_AT_DESC,
        )
        assert [job.id for job in page.results] == [ids[1], ids[0]], statuses


def test_cursor_pages_followed_to_the_end_see_every_job_once_in_order(generated, client):
    """The client sends its described defaults (`pagination=offset`, `limit`, `ordering`)
    with the cursor of each next link; the cursor decides, and no offset is sent."""
    marker = unique("generated-cursor")
    ids = [create(generated, client, f"{marker}-{n}").id for n in range(5)]
    page = generated.jobs_list.sync(
        client=client,
        search=marker,
        limit=2,
        pagination=generated.models.JobsListPagination.CURSOR,
    )
    seen, pages = [job.id for job in page.results], 1
    while page.next_ is not None:
        assert pages < 10, "the cursors loop"
        page = generated.jobs_list.sync(
            client=client, search=marker, limit=2, cursor=cursor_of(page.next_)
        )
        seen += [job.id for job in page.results]
        pages += 1
    assert seen == ids[::-1] and pages == 3


def test_history_cursor_pages_to_the_end(generated, client):
    models = generated.models
    job = create(generated, client, unique("generated-history"))
    for status in ("RUNNING", "FAILED", "RUNNING"):
        generated.jobs_status_append.sync(
            job.id,
            client=client,
            body=models.JobUpdateInputRequest(status_type=models.JobStatusTypeEnum(status)),
        )
    page = generated.jobs_statuses_list.sync(
        job.id, client=client, limit=3, pagination=models.JobsStatusesListPagination.CURSOR
    )
    statuses = [event.status_type.value for event in page.results]
    while page.next_ is not None:
        assert len(statuses) < 10, "the cursors loop"
        page = generated.jobs_statuses_list.sync(
            job.id, client=client, limit=3, cursor=cursor_of(page.next_)
        )
        statuses += [event.status_type.value for event in page.results]
    assert statuses == ["RUNNING", "FAILED", "RUNNING", "PENDING"]


def test_a_problem_is_read_as_the_problem_model(generated, client):
    """The client's typed status enum cannot even send "DONE", so the invalid input here is
    a name over 255 characters, which it does not check. The request id is the caller's."""
    response = generated.jobs_create.sync_detailed(
        client=client,
        body=generated.models.JobCreateInputRequest(name="x" * 256),
        x_request_id="generated-client-1",
    )
    problem = response.parsed
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert isinstance(problem, generated.models.Problem)
    assert problem.type_ == "https://jobs.example/problems/validation-error"
    assert problem.status == 400 and "name" in problem.errors.additional_properties
    assert problem.request_id == response.headers["X-Request-ID"] == "generated-client-1"


def test_every_read_answers_head_with_its_headers_and_no_body(generated, client):
    job = create(generated, client, unique("generated-head"))
    for response in (
        generated.jobs_list_head.sync_detailed(client=client),
        generated.jobs_summary_head.sync_detailed(client=client),
        generated.jobs_retrieve_head.sync_detailed(job.id, client=client),
        generated.jobs_statuses_list_head.sync_detailed(job.id, client=client),
    ):
        assert response.status_code == HTTPStatus.OK
        assert response.content == b"" and response.parsed is None
        assert response.headers["ETag"] and response.headers["X-Request-ID"]


def test_the_generated_client_needs_no_credentials(generated):
    """`security: [{}]` made every operation demand an AuthenticatedClient."""
    for name in MODULES:
        module: ModuleType = getattr(generated, name)
        annotation = module.sync_detailed.__annotations__["client"]
        assert generated.client in typing.get_args(annotation), (name, annotation)
