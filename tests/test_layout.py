"""The architecture as the folder listing promises it: imports point one way, no module imports
itself back through others (imports under TYPE_CHECKING included), and each layer of `commands/`
uses only those beneath it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "commands", "jobs", "storage")

# commands/: the pure rules at the bottom, then the engine, then the domain from the crew upwards.
# A domain package may use the ones before it in this list, never one after it.
COMMAND_LAYERS = ("rules", "engine", "crew", "scope", "deploy", "release")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts and "versions" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every project module `path` imports, wherever the import statement is."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and known[name].name != "__init__.py":
                out.add(name)
    return out


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(path, known) - {name} for name, path in known.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_back():
    cycle = _cycle(_graph())
    assert cycle is None, "import circle: " + " → ".join(cycle or [])


def test_layers_point_one_way():
    wrong = []
    for module, targets in _graph().items():
        top = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if top == "storage" and other != "storage":
                wrong.append(f"{module} → {target} (storage knows nothing above it)")
            if top == "commands" and other in ("bot", "jobs"):
                wrong.append(f"{module} → {target} (commands know no platform or scheduler)")
            if top == "jobs" and other == "bot":
                wrong.append(f"{module} → {target} (jobs are wired by bot, not the other way)")
    assert not wrong, "\n".join(sorted(wrong))


def test_command_packages_use_only_the_layers_beneath():
    wrong = []
    for module, targets in _graph().items():
        parts = module.split(".")
        if parts[0] != "commands" or len(parts) < 3:
            continue  # commands.catalog lists every command: it sits above them all
        layer = COMMAND_LAYERS.index(parts[1])
        for target in targets:
            tparts = target.split(".")
            if tparts[0] != "commands" or len(tparts) < 3:
                if tparts[0] == "commands" and target != "commands":
                    wrong.append(f"{module} → {target}")
                continue
            if COMMAND_LAYERS.index(tparts[1]) > layer:
                wrong.append(f"{module} → {target} ({parts[1]} sits beneath {tparts[1]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_commands_folder_names_the_engine_and_the_domain():
    listed = {p.name for p in (ROOT / "commands").iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert listed == set(COMMAND_LAYERS)
    loose = sorted(p.name for p in (ROOT / "commands").glob("*.py") if p.name not in ("__init__.py", "catalog.py"))
    assert loose == [], f"modules outside a package: {loose}"
