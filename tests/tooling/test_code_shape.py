"""The shape of the code a newcomer reads first: short functions in the services (the
launcher's own rule, no service code in its process, is in test_bench.py)."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_FUNCTION_LINES = 40


def _service_functions():
    for path in sorted((REPO / "services").rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path.relative_to(REPO), node


def test_no_function_in_the_services_is_longer_than_forty_lines():
    functions = list(_service_functions())
    assert len(functions) > 50  # the walk found the services' code
    long = [
        f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path, node in functions
        if (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
