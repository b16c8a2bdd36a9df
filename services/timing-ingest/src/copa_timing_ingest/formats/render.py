"""One JSON object per line, for the command line (issue 4: ``copa timing parse``)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from .model import LifAthlete, Passing


def passing_dict(passing: Passing) -> dict[str, Any]:
    """``chip``, ``at`` (ISO 8601, UTC, microseconds), ``kind``, ``line``, then whatever the
    format carries (``device``, ``antenna``, ``location``, ``seq``, ``seq_scope``, ``rssi``,
    ``hits``, ``bib``), left out when absent."""
    out: dict[str, Any] = {
        "chip": passing.chip,
        "at": passing.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "kind": passing.kind,
    }
    for key in ("device", "antenna", "location", "seq", "seq_scope", "rssi", "hits", "bib"):
        value = getattr(passing, key)
        if value is not None:
            out[key] = value
    out["line"] = passing.line
    return out


def athlete_dict(athlete: LifAthlete) -> dict[str, Any]:
    """Every field, ``null`` where the file has nothing: a stable shape for result lines."""
    return {
        "place": athlete.place,
        "bib": athlete.bib,
        "lane": athlete.lane,
        "status": athlete.status,
        "elapsed_us": athlete.elapsed_us,
        "reaction_us": athlete.reaction_us,
        "last_name": athlete.last_name,
        "first_name": athlete.first_name,
        "affiliation": athlete.affiliation,
        "line": athlete.line,
    }


def to_json_line(item: Passing | LifAthlete) -> str:
    """One line of JSON (no newline) for a read or a ``.lif`` athlete."""
    data = passing_dict(item) if isinstance(item, Passing) else athlete_dict(item)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
