"""Imports in the runtime go one way (docs/internals/architecture.md), counting those inside
functions: only ``enqueue/`` and ``django/`` import ``enqueue/``; only the handler (the image's CMD)
reaches ``worker/`` from the core; no import loop but the ones listed here, each with its reason.

Read from the source with :mod:`ast` (nothing is imported): every ``import`` statement counts,
wherever it stands, except those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import lambda_jobs

PACKAGE = Path(lambda_jobs.__file__).parent
#: The modules above the enqueue side: they may import it.
ABOVE_ENQUEUE = ("lambda_jobs.enqueue", "lambda_jobs.django")
#: The one module below them that names an enqueue module: each backend's ``sender``, a dotted
#: path imported on the first send (as Django's settings name a task backend's class).
SENDER_TABLE = "lambda_jobs.backends"
#: The import loops left, and why. A loop among other modules, or a larger one, fails the test.
KNOWN_LOOPS = {
    # A chain or group enqueues itself (canvas -> start); starting a stage builds its steps
    # (start -> canvas) and returns a handle (start -> handle), which finds its steps by the job
    # ids canvas derives (handle -> canvas); inline mode runs the stages with the same three.
    frozenset(
        {
            "lambda_jobs.workflows.canvas",
            "lambda_jobs.workflows.handle",
            "lambda_jobs.workflows.inline",
            "lambda_jobs.workflows.start",
        }
    ),
    # The one lifecycle enters a job's limits (lifecycle -> limiting); a refused start waits the
    # way its backend waits (goat, lamb -> limiting's goat_wait and lamb_wait), which send, hide
    # or schedule with that backend's own helpers (limiting -> goat, lamb), and both backends run
    # the one lifecycle (goat, lamb -> lifecycle).
    frozenset(
        {
            "lambda_jobs.worker.goat",
            "lambda_jobs.worker.lamb",
            "lambda_jobs.worker.lifecycle",
            "lambda_jobs.worker.limiting",
        }
    ),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_time_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` that can run: all but the body of an ``if TYPE_CHECKING:``."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def imports_of(name: str) -> set[str]:
    """The runtime modules ``name`` imports, at its top or in any function."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _run_time_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports_of(name) for name in MODULES}
SUBPACKAGES = {n for n, path in MODULES.items() if path.name == "__init__.py"} - {"lambda_jobs"}


def path_to(start: str, wanted: str) -> list[str] | None:
    """An import chain from ``start`` to a module under ``wanted``, or None."""
    parents: dict[str, str] = {}
    stack = [start]
    while stack:
        current = stack.pop()
        for imported in sorted(GRAPH[current]):
            if imported in parents or imported == start:
                continue
            parents[imported] = current
            if imported == wanted or imported.startswith(wanted + "."):
                chain = [imported]
                while chain[-1] != start:
                    chain.append(parents[chain[-1]])
                return chain[::-1]
            stack.append(imported)
    return None


def under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_walk_sees_imports_inside_functions():
    """The pin is only as good as the walk: ``Task.enqueue`` imports the backend door inside it."""
    assert "lambda_jobs.backends" in GRAPH["lambda_jobs.tasks"]
    assert "lambda_jobs.jobstore.records" not in GRAPH["lambda_jobs.job"]


def test_nothing_below_the_enqueue_side_imports_it():
    chains = [
        " -> ".join(chain)
        for name in MODULES
        if not under(name, ABOVE_ENQUEUE)
        for chain in [path_to(name, "lambda_jobs.enqueue")]
        if chain is not None
    ]
    assert chains == []


def test_only_the_handler_reaches_the_worker_from_the_core():
    """The core: the modules of ``lambda_jobs/`` itself, not its packages."""
    core = [name for name in MODULES if name.count(".") <= 1 and name not in SUBPACKAGES]
    chains = [
        " -> ".join(chain)
        for name in core
        if name != "lambda_jobs.handler"
        for chain in [path_to(name, "lambda_jobs.worker")]
        if chain is not None
    ]
    assert chains == []


_ENQUEUE_PATH = re.compile(r"lambda_jobs\.enqueue(\.\w+)*")


def test_below_the_enqueue_side_only_the_sender_table_names_it():
    """A dotted path is an import too: outside the backend table, none below ``enqueue/``."""
    naming = sorted(
        f"{name}: {node.value}"
        for name, path in MODULES.items()
        if not under(name, ABOVE_ENQUEUE) and name != SENDER_TABLE
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _ENQUEUE_PATH.fullmatch(node.value)
    )
    assert naming == []


def _loops() -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(frozenset(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return loops


def test_no_import_loop_but_the_known_ones():
    new = [sorted(loop) for loop in _loops() if not any(loop <= known for known in KNOWN_LOOPS)]
    assert new == []
