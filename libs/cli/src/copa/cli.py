"""The ``copa`` command: run the platform locally, check it, get tokens for its APIs.

    copa up        the whole platform in the foreground (Ctrl-C stops it)
    copa status    is every component answering? (--json for scripts)
    copa token     a JWT for calling the APIs of the local platform
    copa republish refill the broker from the services' outboxes (after it lost its content)

Heavy imports happen inside the commands, so ``copa --help`` and ``copa status`` stay fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, timedelta

from copa.state import CopaHome, CopaHomeNotFound, PlatformRecord

ROLES_HELP = "organizer, judge, chief_judge, timing_device, partner, participant"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``copa`` console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.command(args)
    except CopaHomeNotFound as error:
        print(f"copa: {error}", file=sys.stderr)
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    from copa.up import (
        DEFAULT_KAFKA_PORT,
        DEFAULT_POSTGRES_PORT,
        DEFAULT_SERVE_MODULE,
        DEFAULT_SERVICE_PORTS,
        DEFAULT_SMTP_PORT,
    )

    parser = argparse.ArgumentParser(
        prog="copa",
        description="Copa Run on one machine: run the platform, check it, get API tokens.",
        epilog="State lives in <repo>/.copa (or $COPA_HOME).",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="bring the whole platform up in the foreground (Ctrl-C stops it)",
        description=(
            "Start PostgreSQL, the Kafka-protocol broker, the SMTP sink and the five services, "
            "wait until every service is ready, and keep them running until Ctrl-C. "
            "DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS / SMTP_URL in the environment replace the "
            "embedded servers (DATABASE_URL names the server; each service gets its own "
            "database on it)."
        ),
    )
    up.add_argument("--postgres-port", type=_port, default=DEFAULT_POSTGRES_PORT, metavar="PORT")
    up.add_argument("--kafka-port", type=_port, default=DEFAULT_KAFKA_PORT, metavar="PORT")
    up.add_argument("--smtp-port", type=_port, default=DEFAULT_SMTP_PORT, metavar="PORT")
    up.add_argument(
        "--service-ports",
        type=_service_ports,
        default=dict(DEFAULT_SERVICE_PORTS),
        metavar="PORTS",
        help=(
            "the first of five consecutive ports, or five comma-separated ports, for "
            f"{', '.join(DEFAULT_SERVICE_PORTS)} (default: "
            f"{','.join(map(str, DEFAULT_SERVICE_PORTS.values()))})"
        ),
    )
    up.add_argument(
        "--ready-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long each service may take to answer /readyz (default: 60)",
    )
    up.add_argument(
        "--serve-module",
        default=DEFAULT_SERVE_MODULE,
        metavar="MODULE",
        help=(
            "module run as `python -m MODULE <service> --host H --port P` "
            f"(default: {DEFAULT_SERVE_MODULE})"
        ),
    )
    up.add_argument(
        "--rehearsal",
        action="store_true",
        help=(
            "run a rehearsal of the 2024 edition: its rules on dates a few weeks ahead, and a "
            "registration clock `copa simulate` may move (see `copa simulate --help`)"
        ),
    )
    up.add_argument(
        "--capacity",
        type=int,
        default=None,
        metavar="N",
        help="with --rehearsal: room for N participants (slot limits and BIB ranges scaled)",
    )
    up.set_defaults(command=_up)

    simulate = commands.add_parser(
        "simulate",
        help="play a whole edition through the running platform and check its results",
        description=(
            "Applicants apply and pay (online, a company's list, free slots), relay teams "
            "enter, kits and chips are issued, team applications are submitted, the field is "
            "drawn and races (start signals, reads in the vendors' formats, photo-finish "
            "files), judges rule and confirm, a protest is upheld; then every published "
            "result, standings table, team classification and the relay's standings are "
            "checked against the simulation's own truth. Runs against `copa up --rehearsal`. Exit "
            "code: 0 no mismatch, 1 mismatches or a refusal, 2 the platform is not ready."
        ),
    )
    simulate.add_argument(
        "--runners", type=int, default=700, metavar="N", help="applicants (default: 700)"
    )
    simulate.add_argument("--seed", type=int, default=2024, metavar="N")
    simulate.add_argument(
        "--distance",
        action="append",
        dest="distances",
        metavar="CODE",
        help="only this distance (repeatable; default: every distance)",
    )
    simulate.add_argument(
        "--speed",
        type=float,
        default=60.0,
        metavar="X",
        help="race time runs X times faster than the wall clock (default: 60)",
    )
    simulate.add_argument(
        "--relay-teams",
        type=int,
        default=None,
        metavar="N",
        help="relay teams entered (default: one per 25 applicants, 2 to 28)",
    )
    simulate.add_argument(
        "--no-protest", action="store_true", help="file no protest after the races"
    )
    simulate.add_argument(
        "--json", metavar="FILE", help="also write the report's figures as JSON to FILE"
    )
    simulate.set_defaults(command=_simulate)

    status = commands.add_parser(
        "status",
        help="probe every component of the running platform",
        description="Probe every component recorded by `copa up`; exit 0 only if all are healthy.",
    )
    status.add_argument(
        "--json", action="store_true", help="print a JSON list, one object per component"
    )
    status.add_argument(
        "--timeout", type=float, default=3.0, metavar="SECONDS", help="per-probe timeout"
    )
    status.set_defaults(command=_status)

    token = commands.add_parser(
        "token",
        help="print a JWT for the local platform's APIs",
        description=(
            "Print a bearer token signed with this install's secret (.copa/jwt-secret, or "
            '$COPA_JWT_SECRET), e.g. `curl -H "Authorization: Bearer $(copa token --role judge)"`.'
        ),
    )
    token.add_argument(
        "--role",
        action="append",
        required=True,
        dest="roles",
        metavar="ROLE",
        help=f"a role to grant (repeatable): {ROLES_HELP}",
    )
    token.add_argument("--subject", metavar="NAME", help="who the token is for (default: copa-dev)")
    token.add_argument(
        "--device", metavar="DEVICE_ID", help="the timing device this token belongs to"
    )
    token.add_argument(
        "--ttl-hours", type=float, default=12.0, metavar="N", help="lifetime (default: 12)"
    )
    token.set_defaults(command=_token)

    republish = commands.add_parser(
        "republish",
        help="refill the broker from every service's outbox and timing ingest's reads",
        description=(
            "Ask each service of the running platform (`copa up`, .copa/run/platform.json) to "
            "publish again every event it ever published, in order and with the same event "
            "ids (consumers skip what they have): for a broker that lost its content, such "
            "as the embedded one after a restart."
        ),
    )
    republish.add_argument(
        "--service",
        action="append",
        default=[],
        dest="services",
        metavar="NAME",
        help="only this service (repeatable; default: all five)",
    )
    republish.set_defaults(command=_republish)

    timing = commands.add_parser("timing", help="timing tools that need no running services")
    timing_commands = timing.add_subparsers(
        title="timing commands", required=True, metavar="COMMAND"
    )
    parse = timing_commands.add_parser(
        "parse",
        help="parse a timing device's output to JSON lines (bad lines to stderr)",
        description="Prints one JSON object per read (or per .lif athlete line); bad lines "
        "go to stderr with their line number and reason. Exit code: 0 all lines good, "
        "1 some line bad, 2 usage error.",
    )
    parse.add_argument(
        "--format",
        required=True,
        metavar="FORMAT",
        help="ipico, chronotrack, raceresult, ultra, mylaps-p3, lif or csv",
    )
    parse.add_argument(
        "--tz",
        default="Asia/Almaty",
        metavar="ZONE",
        help="time zone of zone-less times (default: Asia/Almaty)",
    )
    parse.add_argument(
        "--date",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="race day, for formats that carry only a time of day",
    )
    parse.add_argument(
        "--device", default=None, metavar="DEVICE_ID", help="device id to stamp on every read"
    )
    parse.add_argument("file", help="file to parse, or - for standard input")
    parse.set_defaults(command=_timing_parse)

    from copa.results import add_results_commands

    add_results_commands(commands)  # copa results compute | qualify (issue 5)
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _timing_parse(args: argparse.Namespace) -> int:
    from copa_timing_ingest.formats import run_parse_cli

    code: int = run_parse_cli(args.format, args.file, args.tz, day=args.date, device=args.device)
    return code


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def _service_ports(text: str) -> dict[str, int]:
    from copa.up import SERVICES

    parts = [part.strip() for part in text.split(",") if part.strip()]
    if len(parts) == 1:
        first = _port(parts[0])
        ports = [first + offset for offset in range(len(SERVICES))]
    elif len(parts) == len(SERVICES):
        ports = [_port(part) for part in parts]
    else:
        raise argparse.ArgumentTypeError(
            f"give one port or {len(SERVICES)} comma-separated ports, not {len(parts)}"
        )
    if max(ports) > 65535 or len(set(ports)) != len(ports):
        raise argparse.ArgumentTypeError(f"bad service ports: {ports}")
    return dict(zip(SERVICES, ports, strict=True))


def _up(args: argparse.Namespace) -> int:
    from copa.up import Platform, UpOptions

    home = CopaHome.locate()
    if args.rehearsal:
        _prepare_rehearsal(home, args.capacity)
    elif args.capacity is not None:
        print("copa: --capacity goes with --rehearsal", file=sys.stderr)
        return 2
    options = UpOptions(
        postgres_port=args.postgres_port,
        kafka_port=args.kafka_port,
        smtp_port=args.smtp_port,
        service_ports=args.service_ports,
        ready_timeout_s=args.ready_timeout,
        serve_module=args.serve_module,
        rehearsal=args.rehearsal,
    )
    return Platform(home, options).run()


def _prepare_rehearsal(home: CopaHome, capacity: int | None) -> None:
    """Write the rehearsal edition and point the services at it (they inherit the env)."""
    import os

    from copa.simulate.rehearsal import REHEARSAL_CODE, write_rehearsal
    from copa_contracts.edition import find_editions_dir

    target = home.root / "editions"
    path = write_rehearsal(find_editions_dir(home.repo), target, date.today(), capacity=capacity)
    os.environ["COPA_EDITIONS_DIR"] = str(target)
    os.environ["COPA_EDITION"] = REHEARSAL_CODE
    os.environ["COPA_REGISTRATION_CLOCK_CONTROL"] = "1"
    print(f"rehearsal edition: {path}", file=sys.stderr)


def _simulate(args: argparse.Namespace) -> int:
    import asyncio

    from copa.simulate import simulate_platform

    return asyncio.run(
        simulate_platform(
            CopaHome.locate(),
            runners=args.runners,
            seed=args.seed,
            distances=tuple(args.distances) if args.distances else None,
            speed=args.speed,
            protest=not args.no_protest,
            relay_teams=args.relay_teams,
            json_path=args.json,
        )
    )


def _status(args: argparse.Namespace) -> int:
    from copa.status import probe_all
    from copa.up import _same_process

    home = CopaHome.locate()
    record = PlatformRecord.read(home.platform_file)
    if record is None:
        print(
            f"copa: the platform is not up (no {home.platform_file}); start it with "
            "`copa up` (or ./dev up)",
            file=sys.stderr,
        )
        return 1
    stale = record.supervisor_pid is not None and not _same_process(
        record.supervisor_pid, record.supervisor_started_at
    )
    probes = probe_all(record.components, timeout_s=args.timeout)
    if args.json:
        print(json.dumps([probe.as_json() for probe in probes], indent=2, ensure_ascii=False))
    else:
        rows = [("component", "kind", "health", "url", "detail")]
        rows += [(p.name, p.kind, "ok" if p.healthy else "DOWN", p.url, p.detail) for p in probes]
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            print("  ".join([*cells, row[4]]).rstrip())
    if stale:
        print(
            f"copa: copa up (pid {record.supervisor_pid}) is no longer running; "
            f"{home.platform_file} is left over from a run that was killed",
            file=sys.stderr,
        )
    healthy = bool(probes) and all(probe.healthy for probe in probes)
    return 0 if healthy and not stale else 1


def _republish(args: argparse.Namespace) -> int:
    from copa.republish import republish

    return republish(CopaHome.locate(), args.services)


def _token(args: argparse.Namespace) -> int:
    try:
        from copa_runtime.auth import Role, issue_token
    except ImportError as error:
        print(f"copa: cannot issue tokens: {error}", file=sys.stderr)
        return 1
    valid = {role.value for role in Role}
    unknown = [role for role in args.roles if role not in valid]
    if unknown:
        print(
            f"copa: unknown role(s): {', '.join(unknown)} (known: {', '.join(sorted(valid))})",
            file=sys.stderr,
        )
        return 2
    if args.ttl_hours <= 0:
        print("copa: --ttl-hours must be positive", file=sys.stderr)
        return 2
    # The runtime reads the device a timing token belongs to from the "device" claim.
    extra = {"device": args.device} if args.device else None
    subject = args.subject or (f"device:{args.device}" if args.device else "copa-dev")
    secret = CopaHome.locate().jwt_secret()
    print(
        issue_token(
            subject=subject,
            roles=list(args.roles),
            secret=secret,
            ttl=timedelta(hours=args.ttl_hours),
            extra=extra,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
