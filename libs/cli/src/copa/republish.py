"""``copa republish``: refill a broker that lost its content from the services' own stores.

The embedded broker keeps nothing across a restart, and any broker can lose a topic. Every
event a service ever published stays in its outbox, and timing ingest's reads stay in their
table (ARCHITECTURE.md, "The bus"), so the running platform can put the whole stream back:
this asks each service (``POST /ops/republish``, organizer role, with a token signed by the
platform's secret) to queue everything again. The relays send it in its original order with
its own event ids; consumers skip what they applied already, so running it twice, or on a
broker that lost nothing, changes nothing downstream.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from copa.state import CopaHome, PlatformRecord

REPUBLISH_PATH = "/ops/republish"


@dataclass(frozen=True)
class Outcome:
    service: str
    url: str
    ok: bool
    detail: str


def republish(
    home: CopaHome,
    services: Sequence[str] = (),
    *,
    timeout_s: float = 60.0,
    out: TextIO | None = None,
) -> int:
    """Ask every service of the running platform (or the ``services`` named) to republish;
    print one line per service; 0 when all did, 1 otherwise (2: a name is unknown)."""
    import httpx

    from copa_runtime.auth import issue_token

    out = out or sys.stdout
    record = PlatformRecord.read(home.platform_file)
    if record is None:
        print(
            f"copa: the platform is not up (no {home.platform_file}); start it with `copa up`",
            file=sys.stderr,
        )
        return 1
    running = {c.name: c for c in record.components if c.kind == "service"}
    unknown = [name for name in services if name not in running]
    if unknown:
        print(
            f"copa: no such service: {', '.join(unknown)} (running: {', '.join(running)})",
            file=sys.stderr,
        )
        return 2
    chosen = [running[name] for name in services] if services else list(running.values())
    token = issue_token("copa-republish", ["organizer"], home.jwt_secret(), timedelta(minutes=10))
    outcomes = []
    with httpx.Client(timeout=timeout_s, headers={"Authorization": f"Bearer {token}"}) as client:
        for component in chosen:
            url = component.url.rstrip("/") + REPUBLISH_PATH
            try:
                answer = client.post(url)
            except httpx.HTTPError as error:
                outcomes.append(Outcome(component.name, url, False, type(error).__name__))
                continue
            if answer.status_code != 200:
                outcomes.append(
                    Outcome(component.name, url, False, f"{answer.status_code} {answer.text[:300]}")
                )
                continue
            counts = answer.json()["republished"]
            detail = ", ".join(f"{count} {stream}" for stream, count in counts.items())
            outcomes.append(Outcome(component.name, url, True, f"queued again: {detail}"))
    width = max(len(o.service) for o in outcomes) if outcomes else 0
    for outcome in outcomes:
        mark = "ok    " if outcome.ok else "FAILED"
        print(f"{outcome.service.ljust(width)}  {mark}  {outcome.detail}", file=out)
    return 0 if all(o.ok for o in outcomes) else 1
