"""What `make run` installs is what the code imports: every third-party module imported by the
package and the scrapers comes with the runtime dependencies in pyproject.toml (declared, or
required by one declared), not only with the dev tools (pandas brings numpy, say)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def runtime_closure() -> set[str]:
    """The declared runtime dependencies and everything they require (no extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [_name(Requirement(r).name) for r in project["dependencies"]]
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        try:
            required = metadata.requires(name) or []
        except metadata.PackageNotFoundError:  # not installed here: nothing it requires
            continue
        for text in required:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_name(requirement.name))
    return found


def imported_modules() -> set[str]:
    """Top-level modules imported anywhere in src/ and scrapers/ (also inside functions)."""
    found: set[str] = set()
    for path in [*(ROOT / "src").rglob("*.py"), *(ROOT / "scrapers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_every_imported_library_is_a_runtime_dependency() -> None:
    distributions = metadata.packages_distributions()
    closure = runtime_closure()
    own = {"cac_filings", "scrapers"}
    missing = {}
    for module in sorted(imported_modules() - own - set(sys.stdlib_module_names)):
        names = {_name(d) for d in distributions.get(module, [])}
        if not names & closure:
            missing[module] = sorted(names) or ["not installed"]
    assert not missing, f"imported but not installed by the runtime dependencies: {missing}"
