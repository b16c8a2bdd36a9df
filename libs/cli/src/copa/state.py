"""Where ``copa`` keeps its state, and the ``platform.json`` that ``copa up`` leaves for others.

The state directory is ``<repo>/.copa`` (git-ignored), or ``$COPA_HOME`` when set: that
variable names the state directory itself, so tests and parallel checkouts can run a
platform each without touching the developer's. Inside it::

    pgdata/            the embedded PostgreSQL's data (kept between runs)
    logs/<name>.log    one log per component (the previous run's as <name>.log.1)
    mail/              every e-mail the SMTP sink received, as .eml files
    kafka/             the broker's working directory (memory storage: nothing persists)
    run/platform.json  what is running now; removed by a clean shutdown
    jwt-secret         the per-install secret that signs local tokens
    tools/             a private uv, installed by ./dev on machines without one
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

COPA_HOME_ENV = "COPA_HOME"
JWT_SECRET_ENV = "COPA_JWT_SECRET"


class CopaHomeNotFound(RuntimeError):
    """Neither ``$COPA_HOME`` nor a Copa Run checkout above the current directory."""


def find_repo_root(start: Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` whose pyproject.toml has ``[tool.uv.workspace]``.

    The workspace marker, not any pyproject.toml: each service and library has its own
    pyproject.toml, and running ``copa`` from inside one must still find the repository.
    """
    here = (start or Path.cwd()).absolute()
    for directory in (here, *here.parents):
        pyproject = directory / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if "workspace" in data.get("tool", {}).get("uv", {}):
            return directory
    return None


@dataclass(frozen=True)
class CopaHome:
    """The state directory and the repository it belongs to (None when unknown)."""

    root: Path
    repo: Path | None

    @classmethod
    def locate(cls, cwd: Path | None = None) -> CopaHome:
        repo = find_repo_root(cwd)
        override = os.environ.get(COPA_HOME_ENV, "").strip()
        if override:
            return cls(Path(override).expanduser().absolute(), repo)
        if repo is None:
            raise CopaHomeNotFound(
                f"not inside a Copa Run checkout (no pyproject.toml with [tool.uv.workspace] "
                f"at or above {(cwd or Path.cwd()).absolute()}); cd into the repository or "
                f"set {COPA_HOME_ENV} to a directory for copa's state"
            )
        return cls(repo / ".copa", repo)

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def mail(self) -> Path:
        return self.root / "mail"

    @property
    def kafka_dir(self) -> Path:
        return self.root / "kafka"

    @property
    def platform_file(self) -> Path:
        return self.root / "run" / "platform.json"

    @property
    def jwt_secret_file(self) -> Path:
        return self.root / "jwt-secret"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def ensure(self) -> None:
        for directory in (
            self.root,
            self.logs,
            self.mail,
            self.kafka_dir,
            self.platform_file.parent,
        ):
            directory.mkdir(parents=True, exist_ok=True)

    def jwt_secret(self) -> str:
        """``$COPA_JWT_SECRET`` if set, else this install's secret (generated on first use).

        One secret per install, kept on disk, so tokens issued by ``copa token`` keep
        working across ``copa up`` restarts, and no two checkouts share one.
        """
        from_env = os.environ.get(JWT_SECRET_ENV, "").strip()
        if from_env:
            return from_env
        path = self.jwt_secret_file
        try:
            return path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another copa created it meanwhile: use theirs
            return path.read_text(encoding="utf-8").strip()
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        return secret


@dataclass
class ComponentRecord:
    """One running component as ``copa status`` needs to find and probe it."""

    name: str
    kind: str  # "service" | "postgres" | "kafka" | "smtp"
    url: str
    health_url: str | None = None
    pid: int | None = None
    log: str | None = None
    docs_url: str | None = None
    external: bool = False
    process_started_at: float | None = None  # lets a later run tell our pid from a reused one

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ComponentRecord:
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass
class PlatformRecord:
    """The content of ``run/platform.json``."""

    supervisor_pid: int | None = None
    supervisor_started_at: float | None = None
    started_at: str | None = None
    components: list[ComponentRecord] = field(default_factory=list)

    def write(self, path: Path) -> None:
        """Write atomically, so a concurrent ``copa status`` never reads half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> PlatformRecord | None:
        """The record, or None when the file is missing or unreadable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if isinstance(data, list):  # a bare list of components is accepted too
            data = {"components": data}
        return cls(
            supervisor_pid=data.get("supervisor_pid"),
            supervisor_started_at=data.get("supervisor_started_at"),
            started_at=data.get("started_at"),
            components=[ComponentRecord.from_json(item) for item in data.get("components", [])],
        )
