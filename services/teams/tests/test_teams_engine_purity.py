"""The teams engine is pure: stdlib and the contracts' configuration types only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import get_args

import copa_contracts.common as common
import copa_contracts.ranking as ranking
import copa_teams.engine as engine
from copa_teams.engine import terms

ENGINE_DIR = Path(engine.__file__).parent
ALLOWED = {"copa_contracts.edition", "copa_teams.engine"}


def test_engine_imports_only_the_standard_library_and_the_edition_config() -> None:
    for path in ENGINE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            for module in modules:
                root = module.split(".")[0]
                if root in sys.stdlib_module_names or root == "__future__":
                    continue
                assert any(module == a or module.startswith(a + ".") for a in ALLOWED), (
                    f"{path.name} imports {module}"
                )


def test_importing_the_engine_loads_no_web_framework_database_or_broker() -> None:
    code = (
        "import sys, copa_teams.engine; "
        "print([m for m in ('fastapi', 'sqlalchemy', 'aiokafka', 'asyncpg') if m in sys.modules])"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


def test_the_engine_spells_statuses_as_the_contracts_do() -> None:
    assert get_args(terms.ResultStatus) == get_args(common.ResultStatus)
    assert get_args(terms.Gender) == get_args(common.Gender)
    assert get_args(terms.PublicationStatus) == get_args(ranking.PublicationStatus)
