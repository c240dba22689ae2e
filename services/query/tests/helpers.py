from collections.abc import Callable

import pytest


def pages_along(
    first: dict, link: str, get: Callable[[str], dict], *, at_most: int = 100
) -> list[dict]:
    """`first` and every page its `link` ("next" or "previous") leads to, in order. Fails
    the test when more than `at_most` pages follow: a cursor that loops never ends."""
    pages = [first]
    while pages[-1][link] is not None:
        if len(pages) > at_most:
            pytest.fail(f"more than {at_most} pages along {link!r}: the cursors loop")
        pages.append(get(pages[-1][link]))
    return pages
