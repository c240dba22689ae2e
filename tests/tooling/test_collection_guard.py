"""stack/collection_guard.py, which every pytest run of `make test` loads: a folder given to
pytest that collects no test fails the run, even when the other folders collect."""

import os
import subprocess
import sys
from pathlib import Path

from stack import testrun
from stack.config import REPO_ROOT


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "pytest.ini").write_text("[pytest]\n")  # none of the project's settings
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "stack.collection_guard", *args],
        cwd=folder,
        # Only the guard: the entry-point plugins of the venv would slow each run down.
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _folders(tmp_path: Path, **files: str) -> None:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_folder_that_collects_nothing_fails_the_run_while_another_collects(tmp_path):
    _folders(
        tmp_path,
        **{
            "full/test_full.py": "def test_passes():\n    pass\n",
            # A test file whose tests are gone: pytest alone would pass this run.
            "emptied/test_emptied.py": "HELPER = 1\n",
        },
    )
    result = _pytest(tmp_path, "full", "emptied")
    assert result.returncode == 5, result.stdout + result.stderr
    assert "collected no test from: emptied" in result.stdout + result.stderr
    assert "1 passed" in result.stdout  # the other folder's tests still ran and reported


def test_a_file_or_a_test_given_by_id_that_collects_nothing_fails_too(tmp_path):
    _folders(tmp_path, **{"a/test_a.py": "def test_a():\n    pass\n", "b/test_b.py": "X = 1\n"})
    assert _pytest(tmp_path, "a/test_a.py::test_a", "b/test_b.py").returncode == 5


def test_runs_where_every_folder_collects_pass_even_with_deselection(tmp_path):
    _folders(
        tmp_path,
        **{
            "a/test_a.py": "def test_a():\n    pass\n",
            "b/test_b.py": "def test_b():\n    pass\n",
        },
    )
    assert _pytest(tmp_path, "a", "b").returncode == 0
    # -k deselects b's test on purpose: b did collect one, so the guard lets it be.
    deselected = _pytest(tmp_path, "a", "b", "-k", "test_a")
    assert deselected.returncode == 0, deselected.stdout + deselected.stderr


def test_every_pytest_run_of_make_test_loads_the_guard_and_gets_each_test_folder(monkeypatch):
    commands: list[list[str]] = []
    monkeypatch.setattr(testrun, "_step", lambda name, command, **_: commands.append(command))
    testrun._pytest("service", ["shared/tests", "services/command/tests"], env={}, extra=[])
    assert commands[0][commands[0].index("-p") + 1] == "stack.collection_guard"
    # The contract run is given each folder under tests/ on its own, so an empty one fails.
    packages = {f"tests/{p.parent.name}" for p in (REPO_ROOT / "tests").glob("*/__init__.py")}
    assert set(testrun._test_folders()) == packages
    assert {"tests/contract", "tests/dashboard", "tests/fuzz", "tests/tooling"} <= packages
