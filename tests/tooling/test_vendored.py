"""Vendored libraries are the registry's files, unchanged: each file's sha256 is recorded in
its folder's README.md when it is copied in, and recomputed here, so an edit made to a
vendored file (or a file added beside them) fails `make test`."""

import hashlib
import re
from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "dashboard" / "assets" / "vendor"
# The README's own text is not vendored; everything else in the folder is.
RECORD = "README.md"
SUM_LINE = re.compile(r"^([0-9a-f]{64})  (\S+)$", re.MULTILINE)


def recorded_sums(folder: Path) -> dict[str, str]:
    """The `<sha256>  <file>` lines of the folder's README (sha256sum's own format)."""
    return {name: digest for digest, name in SUM_LINE.findall((folder / RECORD).read_text())}


def vendored_folders() -> list[Path]:
    return sorted(path for path in VENDOR.iterdir() if path.is_dir())


def test_the_vendor_folder_holds_the_chart_library():
    assert [folder.name for folder in vendored_folders()] == ["uplot"]


@pytest.mark.parametrize("folder", vendored_folders(), ids=lambda folder: folder.name)
def test_each_vendored_file_is_the_one_recorded(folder):
    sums = recorded_sums(folder)
    present = sorted(path.name for path in folder.iterdir() if path.name != RECORD)
    assert sorted(sums) == present, "every vendored file, and only those, has its sha256 recorded"
    for name, digest in sums.items():
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert actual == digest, f"{folder.name}/{name} differs from the recorded copy"


def test_the_recorded_uplot_version_is_the_one_vendored():
    folder = VENDOR / "uplot"
    (version,) = re.findall(r"^- version: (\S+)$", (folder / RECORD).read_text(), re.MULTILINE)
    banner = (folder / "uPlot.esm.js").read_text()[:400]
    assert f"(v{version})" in banner
