"""Every benchmark script still imports against the current code.

The benchmarks are run by hand, not in CI, so a renamed function they import broke one
unnoticed once. Loading each script as a module (not as ``__main__``, so nothing is measured)
runs its imports and top-level definitions, which is where such breakage shows.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


def test_there_are_benchmarks_to_check() -> None:
    assert len(BENCHMARKS) >= 5


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_script_imports(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Run as a script, Python puts the script's folder first on the path; some benchmarks
    # import helpers from a sibling that way.
    monkeypatch.syspath_prepend(str(script.parent))
    spec = importlib.util.spec_from_file_location(f"benchmark_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(getattr(module, "main", None)), f"{script.name} has no main()"
