"""jobs/ is thin `python -m jobs.X` entry points over subpackages that import downward only:
intent -> playbooks -> prompts -> common (tests/test_layers.py guards the packages and forbids cycles; this guards
the order inside jobs/, so a cycle cannot come back as soon as two subpackages need each other)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

JOBS = Path(__file__).resolve().parents[2] / "jobs"
ENTRY_POINTS = {"simulate", "learn", "failures", "evolve", "prompt_eval"}
ORDER = ["common", "prompts", "playbooks", "intent"]  # each may import only itself and those before it


def _jobs_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jobs"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("jobs")}
    return found


def test_the_entry_points_are_the_top_level_modules():
    top = {p.stem for p in JOBS.glob("*.py") if p.stem != "__init__"}
    assert top == ENTRY_POINTS
    for name in ENTRY_POINTS:
        text = (JOBS / f"{name}.py").read_text()
        assert "def main(" in text and 'if __name__ == "__main__":' in text, name
    below = [p for p in JOBS.rglob("*.py") if p.parent != JOBS]
    assert below and not [str(p) for p in below if 'if __name__ == "__main__"' in p.read_text()]


@pytest.mark.parametrize("package", ORDER)
def test_subpackages_import_downward_and_never_an_entry_point(package):
    allowed = {f"jobs.{p}" for p in ORDER[:ORDER.index(package) + 1]}
    wrong = []
    for path in sorted((JOBS / package).rglob("*.py")):
        for module in _jobs_imports(path):
            if ".".join(module.split(".")[:2]) not in allowed:
                wrong.append(f"{path.relative_to(JOBS.parent)} imports {module}")
    assert not wrong, "\n".join(wrong)
