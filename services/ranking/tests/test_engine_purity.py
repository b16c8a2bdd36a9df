"""The engine is pure: stdlib and the contracts' configuration types only (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import get_args

import copa_contracts.common as common
import copa_contracts.ranking as ranking
import copa_ranking.engine as engine
from copa_ranking.engine import terms

ENGINE_DIR = Path(engine.__file__).parent
ALLOWED_FIRST_PARTY = {"copa_contracts.edition", "copa_contracts.common", "copa_ranking.engine"}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_engine_modules_import_only_the_standard_library_and_the_config_types() -> None:
    for path in ENGINE_DIR.glob("*.py"):
        for module in imported_modules(path):
            root = module.split(".")[0]
            if root in sys.stdlib_module_names or root == "__future__":
                continue
            assert any(module == a or module.startswith(a + ".") for a in ALLOWED_FIRST_PARTY), (
                f"{path.name} imports {module}"
            )


def test_importing_the_engine_loads_no_web_framework_database_or_broker() -> None:
    code = (
        "import sys, copa_ranking.engine; "
        "bad = [m for m in ('fastapi', 'sqlalchemy', 'aiokafka', 'starlette', 'asyncpg') "
        "if m in sys.modules]; print(bad)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


def test_the_engine_spells_statuses_rounds_and_exception_kinds_as_the_contracts_do() -> None:
    assert get_args(terms.RoundKind) == get_args(ranking.RoundKind)
    assert get_args(terms.ExceptionKind) == get_args(ranking.ExceptionKind)
    assert get_args(terms.PublicationStatus) == get_args(ranking.PublicationStatus)
    assert set(terms.NON_FINISHER_ORDER) - {None} | {"OK"} == set(get_args(common.ResultStatus))
