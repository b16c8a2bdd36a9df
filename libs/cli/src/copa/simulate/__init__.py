"""``copa simulate``: race day end to end, through all five services (issue 8).

* :mod:`copa.simulate.field` who applies and how they behave (pure);
* :mod:`copa.simulate.races` how a race is run and what the timing hardware sends (pure);
* :mod:`copa.simulate.truth` what the published results must say, from the rules (pure);
* :mod:`copa.simulate.run` the phases against the running platform, and the report;
* :mod:`copa.simulate.rehearsal` the edition a simulation runs on (``copa up --rehearsal``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from copa.simulate.platform import PlatformUnavailable, SimulationError, Target
from copa.simulate.run import Options, Report, Simulation, percentile
from copa.state import CopaHome


async def simulate_platform(
    home: CopaHome,
    *,
    runners: int,
    seed: int,
    distances: tuple[str, ...] | None,
    speed: float,
    protest: bool,
    relay_teams: int | None = None,
    json_path: str | None = None,
) -> int:
    """The command: 0 when nothing mismatched, 1 on a mismatch or refusal, 2 if not ready."""
    try:
        target = Target.from_platform(home)
    except PlatformUnavailable as error:
        print(f"copa simulate: {error}", file=sys.stderr)
        return 2
    options = Options(
        applicants=runners,
        seed=seed,
        distances=distances,
        speed=speed,
        protest=protest,
        relay_teams=relay_teams,
    )
    async with target:
        try:
            report = await Simulation(target, options).run()
        except (SimulationError, PlatformUnavailable, ValueError) as error:
            print(f"copa simulate: {error}", file=sys.stderr)
            return 1
    print(report.render())
    if json_path:
        _write(Path(json_path), json.dumps(figures(report), indent=2) + "\n")
    return 1 if report.mismatches else 0


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def figures(report: Report) -> dict[str, object]:
    """The report's numbers, for docs/race-day.md and scripts."""
    latency = report.latencies_ms
    broker = report.broker_ms
    return {
        "phases": [asdict(p) | {"seconds": p.seconds} for p in report.phases],
        "counts": report.counts,
        "mismatches": report.mismatches,
        "latency_ms": _summary(latency),
        "broker_ms": _summary(broker),
        "slowest_races": {label: _summary(values) for label, values in report.slowest_races()},
        "notes": report.notes,
    }


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "n": len(values),
        "p50": percentile(values, 0.5),
        "p99": percentile(values, 0.99),
        "max": max(values),
    }


__all__ = ["Options", "Report", "Simulation", "Target", "figures", "simulate_platform"]
