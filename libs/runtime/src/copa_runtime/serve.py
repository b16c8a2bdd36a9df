"""Run one service: ``python -m copa_runtime.serve <service> [--port N] [--role api|worker|all]``.

Migrates the service's database to head, then serves the app with uvicorn; SIGTERM and
SIGINT stop it gracefully (workers cancelled, connections closed). ``--migrate-only``
migrates and exits (a Kubernetes Job or a compose one-shot), ``--no-migrate`` serves without
migrating (the replicas that the Job migrated for).
"""

from __future__ import annotations

import argparse
import gc
import logging

import uvicorn

from copa_runtime.app import ProcessRole, create_app
from copa_runtime.logging import configure_logging
from copa_runtime.migrations import upgrade
from copa_runtime.service import load_service, service_names
from copa_runtime.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="copa-serve", description=__doc__)
    parser.add_argument("service", help=f"one of: {', '.join(service_names())}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--role", type=ProcessRole, default=ProcessRole.ALL, choices=list(ProcessRole)
    )
    migrations = parser.add_mutually_exclusive_group()
    migrations.add_argument(
        "--no-migrate",
        action="store_true",
        help="skip migrations (a separate job runs them, as on Kubernetes)",
    )
    migrations.add_argument(
        "--migrate-only",
        action="store_true",
        help="migrate the database to head and exit, serving nothing (the migrations Job)",
    )
    args = parser.parse_args(argv)

    definition = load_service(args.service)
    settings = Settings(COPA_SERVICE=definition.name)
    configure_logging(definition.name, settings.log_level)
    if not args.no_migrate:
        logging.getLogger(__name__).info("migrating database")
        upgrade(definition.migrations_dir, settings.sqlalchemy_url)
    if args.migrate_only:
        return
    app = create_app(definition, settings, role=args.role)
    # What start-up built (modules, the app, the schemas) lives as long as the process: keep
    # it out of every garbage collection, so that a full collection in the middle of a burst
    # walks only what the requests made.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
