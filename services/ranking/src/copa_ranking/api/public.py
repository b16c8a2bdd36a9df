"""The public results API for the website and partner sites (no login).

Names, clubs, BIBs, categories, times and places only: never an e-mail, a phone or a birth
date (RULES §10). Every page has a strong ``ETag`` and ``Cache-Control``; a client that sends
``If-None-Match`` gets ``304 Not Modified`` while nothing changed. Pages are rendered once
per change: the process keeps the rendered bytes and learns of changes from
``public_changes`` (checked at most every ``VERSION_TTL_S``), so a busy results page costs
a dictionary lookup, not a database query. ``/public/stream`` pushes changes as server-sent
events so a partner page updates live.

Lists page as the name search does: ``page`` (from 1) and ``page_size``; the total is in
``X-Total-Count``. The race list without either stays the whole day's list, as it always was.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.ranking import standings_id
from copa_ranking.engine import format_duration
from copa_ranking.race_day import edition
from copa_runtime.app import Runtime, get_session
from copa_runtime.problems import Problem

log = logging.getLogger(__name__)
router = APIRouter(prefix="/public", tags=["public results"])
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]

CACHE_CONTROL = "public, max-age=1, stale-while-revalidate=5"
STREAM_POLL_S = 0.25
GAP_WAIT_S = 5.0
"""How long the stream waits for a change numbered before one already committed."""
GAP_RECHECK_S = 0.02
CHANGES_CHANNEL = "ranking_public_changes"
"""NOTIFY'd at commit by a trigger on ``public_changes`` (migration 0003)."""


class _Pages:
    """Rendered pages of this process, dropped whenever a public change commits.

    A ``LISTEN`` connection learns of each commit that touched ``public_changes`` (PostgreSQL
    delivers a notification only once its transaction is committed, so nothing is missed the
    way a sequence read could miss a slower transaction). ``generation`` counts them; a page
    rendered while the generation moved is not kept. Without the listener nothing is cached.
    """

    def __init__(self) -> None:
        self.generation = 0
        self.pages: dict[str, tuple[str, Rendered]] = {}
        self.listening = False
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._next_change = asyncio.Event()

    def _changed(self, *_: object) -> None:
        self.generation += 1
        self.pages.clear()
        woken, self._next_change = self._next_change, asyncio.Event()
        woken.set()

    async def next_change(self, timeout_s: float) -> None:
        """Until the next public change commits (or ``timeout_s``: the fallback poll)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._next_change.wait(), timeout_s)

    def _lost(self, *_: object) -> None:
        self.listening = False
        self._changed()

    async def listen(self, runtime: Runtime) -> None:
        if self.listening:
            return
        async with self._lock:
            if self.listening:
                return
            dsn = runtime.db.engine.url.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            try:
                if self._connection is not None and not self._connection.is_closed():
                    await self._connection.close()
                self._connection = await asyncpg.connect(dsn)
                await self._connection.add_listener(CHANGES_CHANNEL, self._changed)
                self._connection.add_termination_listener(self._lost)
            except (OSError, asyncpg.PostgresError) as failure:
                log.warning("public pages uncached: cannot listen (%s)", failure)
                return
            self._changed()
            self.listening = True


_PAGES = _Pages()

Rendered = tuple[bytes, str, dict[str, str]]
"""A page's body, media type and own headers (such as ``X-Total-Count``)."""
Render = Callable[[AsyncSession], Awaitable[Rendered]]
TOTAL_HEADER = "X-Total-Count"
DEFAULT_PAGE_SIZE = 50


async def _page(request: Request, render: Render, *, variant: str | None = None) -> Response:
    """Serve a page from the cache (or render it), with ``ETag`` revalidation.

    A page with a ``variant`` (`json` or `csv`, chosen by ``format`` or ``Accept``) caches
    each form apart and says it varies by ``Accept``, so that shared caches keep them apart.
    """
    runtime: Runtime = request.app.state.runtime
    await _PAGES.listen(runtime)
    key = str(request.url.path) + "?" + str(request.url.query)
    if variant is not None:
        key += "#" + variant
    page = _PAGES.pages.get(key)
    if page is None:
        generation = _PAGES.generation
        async with runtime.db.unit_of_work() as session:
            rendered = await render(session)
        body, _, own = rendered
        # The page's own headers are part of what it says: a new total is a new ETag.
        digest = hashlib.blake2b(body, digest_size=16)
        digest.update(json.dumps(own, sort_keys=True).encode())
        page = ('"' + digest.hexdigest() + '"', rendered)
        if _PAGES.listening and generation == _PAGES.generation:
            _PAGES.pages[key] = page
    etag, (body, media, own) = page
    headers = {**own, "ETag": etag, "Cache-Control": CACHE_CONTROL}
    if variant is not None:
        headers["Vary"] = "Accept"
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media, headers=headers)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def _json(value: Any, headers: dict[str, str] | None = None) -> Rendered:
    body = json.dumps(value, default=str, ensure_ascii=False).encode()
    return body, "application/json", headers or {}


def _csv(
    rows: list[dict[str, Any]], columns: list[str], headers: dict[str, str] | None = None
) -> Rendered:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(), "text/csv; charset=utf-8", headers or {}


def _total(total: int) -> dict[str, str]:
    return {TOTAL_HEADER: str(total)}


@dataclass(frozen=True, slots=True)
class Paging:
    """``page`` (from 1) and ``page_size`` of a list, as the name search takes them."""

    page: int
    size: int

    def of(self, items: list[Any]) -> list[Any]:
        start = (self.page - 1) * self.size
        return items[start : start + self.size]


def _paging(page: int | None, page_size: int | None) -> Paging | None:
    """None when the client asked for no page: the whole list, as before pagination."""
    if page is None and page_size is None:
        return None
    return Paging(page or 1, page_size or DEFAULT_PAGE_SIZE)


PageNumber = Annotated[int | None, Query(ge=1, description="Page, from 1.")]
PageSize = Annotated[
    int | None,
    Query(ge=1, le=200, description=f"Items per page (default {DEFAULT_PAGE_SIZE} when paging)."),
]


def _time(us: int | None) -> str | None:
    return format_duration(us, 2) if us is not None else None


def _net(us: int | None) -> str | None:
    # RULES §6: the net time is information, shown to the 1/100 s like the official time.
    return format_duration(-(-us // 10_000) * 10_000, 2) if us is not None else None


# --- data ---------------------------------------------------------------------------------


async def _people(session: AsyncSession, bibs: list[int]) -> dict[int, dict[str, Any]]:
    rows = await session.execute(
        text("SELECT bib, full_name, club, category FROM roster WHERE bib = ANY(:b)"),
        {"b": [str(b) for b in bibs]},
    )
    people = {
        int(r.bib): {"name": r.full_name, "club": r.club, "category": r.category} for r in rows
    }
    missing = [b for b in bibs if b not in people]
    if missing:  # relay teams wear team BIBs (RULES §3, §8)
        teams = await session.execute(
            text("SELECT bib, team_name FROM relay_teams WHERE bib = ANY(:b)"), {"b": missing}
        )
        category = edition().relay.category
        people.update(
            {t.bib: {"name": t.team_name, "club": None, "category": category} for t in teams}
        )
    return people


_RACE_SUMMARY = (
    "SELECT race_id, distance, gender, category, round, heat_number, races_in_round, "
    "race_number, scheduled_start_at, gun_us, result_status, result_revision, list_revision "
    "FROM races WHERE published"
)


def _summary(row: Any) -> dict[str, Any]:
    return {
        "race_id": str(row.race_id),
        "race_number": row.race_number,
        "distance": row.distance,
        "gender": row.gender,
        "category": row.category,
        "round": row.round,
        "heat_number": row.heat_number,
        "races_in_round": row.races_in_round,
        "scheduled_start_at": row.scheduled_start_at.isoformat(),
        "started": row.gun_us is not None,
        "results": None if row.result_status == "none" else row.result_status,
    }


async def race_page(session: AsyncSession, race_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        await session.execute(
            text(
                "SELECT r.*, g.marks FROM races r JOIN race_groups g USING "
                "(edition, distance, gender, category) WHERE race_id = :r AND published"
            ),
            {"r": race_id},
        )
    ).first()
    if row is None:
        return None
    start_list = row.start_list or []
    people = await _people(session, [p["bib"] for p in start_list])
    lanes = {p["bib"]: p.get("lane") for p in start_list}
    # Q/q are how a heat's runners went through to the final (reg 11.3.2); a final or a
    # timed final qualifies nobody, as its published result event says (race_day).
    marks = (row.marks or {}) if row.round == "heat" else {}
    results = [
        {
            "place": line["place"],
            "bib": line["bib"],
            **people.get(line["bib"], {}),
            "lane": lanes.get(line["bib"]),
            "time": _time(line["official_time_us"]),
            "official_time_us": line["official_time_us"],
            "net_time": _net(line["net_time_us"]),
            "status": (
                None
                if line["status"] in (None, "OK")
                else line["status"] + (f" {line['dq_rule']}" if line["dq_rule"] else "")
            ),
            "time_source": line["source"],
            "qualified": marks.get(str(line["bib"])),
        }
        for line in row.lines or []
    ]
    return {
        **_summary(row),
        "start_list": [
            {
                "position": p["position"],
                "lane": p.get("lane"),
                "bib": p["bib"],
                **people.get(p["bib"], {}),
            }
            for p in start_list
        ],
        "status": None if row.result_status == "none" else row.result_status,
        "revision": row.result_revision,
        "results": results,
    }


RESULT_COLUMNS = [
    "place",
    "bib",
    "name",
    "club",
    "category",
    "lane",
    "time",
    "net_time",
    "status",
    "qualified",
    "time_source",
]
STANDINGS_COLUMNS = ["place", "bib", "name", "club", "category", "time", "status"]


def _standings_key(distance: str, gender: str, category: str) -> str:
    return standings_id(edition().code, distance, gender, None if category == "all" else category)


def _standing_entries(
    entries: list[dict[str, Any]], people: dict[int, dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            "place": e["place"],
            "bib": e["bib"],
            **people.get(e["bib"], {}),
            "category": e["category"],
            "time": _time(e["official_time_us"]),
            "status": None if e["status"] in (None, "OK") else e["status"],
            "dq_rule": e.get("dq_rule"),
            "winner": e["place"] is not None and e["place"] <= edition().results.prize_places,
        }
        for e in entries
    ]


async def standings_page(
    session: AsyncSession, distance: str, gender: str, category: str
) -> dict[str, Any] | None:
    key = _standings_key(distance, gender, category)
    row = (
        await session.execute(
            text("SELECT status, revision, entries FROM standings WHERE standings_id = :k"),
            {"k": key},
        )
    ).first()
    if row is None:
        return None
    people = await _people(session, [e["bib"] for e in row.entries])
    entries = _standing_entries(row.entries, people)
    return {"standings_id": key, "status": row.status, "revision": row.revision, "entries": entries}


def _wants_csv(request: Request, fmt: str | None) -> bool:
    return fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("accept", ""))


# --- endpoints ----------------------------------------------------------------------------

Format = Annotated[str | None, Query(alias="format", pattern="^(json|csv)$")]


@router.get("/competition")
async def competition(request: Request) -> Response:
    """The edition, its distances and categories."""

    async def render(session: AsyncSession) -> Rendered:
        e = edition()
        return _json(
            {
                "edition": e.code,
                "name": e.name,
                "date": e.date.isoformat(),
                "time_zone": e.time_zone,
                "events": [
                    {
                        "distance": d.code,
                        "length_m": d.length_m,
                        "categories": [
                            {"code": c.code, "gender": c.gender} for c in d.age_categories
                        ],
                    }
                    for d in e.distances
                ],
            }
        )

    return await _page(request, render)


@router.get("/races")
async def races(
    request: Request,
    distance: str | None = None,
    gender: str | None = None,
    category: str | None = None,
    round: str | None = None,
    page: PageNumber = None,
    page_size: PageSize = None,
) -> Response:
    """The day's races with their times and result status, in programme order.

    With ``page`` or ``page_size``, one page in the name search's envelope (``page``,
    ``page_size``, ``total``, ``items``); without, the whole list. ``X-Total-Count`` either way.
    """
    paging = _paging(page, page_size)

    async def render(session: AsyncSession) -> Rendered:
        rows = await session.execute(
            text(
                _RACE_SUMMARY + " AND (CAST(:d AS text) IS NULL OR distance = :d) "
                "AND (CAST(:g AS text) IS NULL OR gender = :g) "
                "AND (CAST(:c AS text) IS NULL OR category = :c) "
                "AND (CAST(:o AS text) IS NULL OR round = :o) ORDER BY race_number"
            ),
            {"d": distance, "g": gender, "c": category, "o": round},
        )
        summaries = [_summary(row) for row in rows]
        total = _total(len(summaries))
        if paging is None:
            return _json(summaries, total)
        return _json(
            {
                "page": paging.page,
                "page_size": paging.size,
                "total": len(summaries),
                "items": paging.of(summaries),
            },
            total,
        )

    return await _page(request, render)


@router.get("/races/{race_id}")
async def race(request: Request, race_id: uuid.UUID, format: Format = None) -> Response:
    """A race: its start list with lanes, and its results (place, time, Q/q, status)."""
    as_csv = _wants_csv(request, format)

    async def render(session: AsyncSession) -> Rendered:
        page = await race_page(session, race_id)
        if page is None:
            raise Problem(404, "No such race", f"race {race_id} is not published")
        return _csv(page["results"], RESULT_COLUMNS) if as_csv else _json(page)

    return await _page(request, render, variant="csv" if as_csv else "json")


@router.get("/races/{race_id}/history")
async def race_history(request: Request, race_id: uuid.UUID) -> Response:
    """Every published version of a race's results, oldest first: provisional, official,
    and each correction with its reason (reg 17.3: a correction never hides what it changed).
    """

    async def render(session: AsyncSession) -> Rendered:
        rows = (
            await session.execute(
                text(
                    "SELECT h.revision, h.event_type, h.status, h.lines, h.reason, "
                    "h.published_at FROM result_history h JOIN races r USING (race_id) "
                    "WHERE race_id = :r AND r.published ORDER BY h.revision"
                ),
                {"r": race_id},
            )
        ).all()
        if not rows:
            raise Problem(404, "No history", f"race {race_id} has no published results")
        people = await _people(session, [line["bib"] for line in rows[-1].lines])
        return _json(
            [
                {
                    "revision": row.revision,
                    "event_type": row.event_type,
                    "reason": row.reason,
                    "published_at": row.published_at.isoformat(),
                    "results": [
                        {
                            "place": line["place"],
                            "bib": line["bib"],
                            "name": people.get(line["bib"], {}).get("name"),
                            "time": _time(line["official_time_us"]),
                            "status": line["status"],
                            "dq_rule": line["dq_rule"],
                        }
                        for line in row.lines
                    ],
                }
                for row in rows
            ]
        )

    return await _page(request, render)


@router.get("/standings/{distance}/{gender}/{category}")
async def standings(
    request: Request,
    distance: str,
    gender: str,
    category: str,
    format: Format = None,
    page: PageNumber = None,
    page_size: PageSize = None,
) -> Response:
    """Standings of a category, or of all categories (`all`), provisional or official.

    ``total`` counts every entry; with ``page`` or ``page_size`` the entries are one page.
    """
    as_csv = _wants_csv(request, format)
    paging = _paging(page, page_size)

    async def render(session: AsyncSession) -> Rendered:
        table = await standings_page(session, distance, gender, category)
        if table is None:
            raise Problem(404, "No standings", f"no standings for {distance} {gender} {category}")
        entries, count = table["entries"], len(table["entries"])
        paged: dict[str, Any] = {"total": count}
        if paging is not None:
            entries = paging.of(entries)
            paged |= {"page": paging.page, "page_size": paging.size}
        if as_csv:
            return _csv(entries, STANDINGS_COLUMNS, _total(count))
        return _json(table | paged | {"entries": entries}, _total(count))

    return await _page(request, render, variant="csv" if as_csv else "json")


@router.get("/standings/{distance}/{gender}/{category}/history")
async def standings_history(
    request: Request, distance: str, gender: str, category: str
) -> Response:
    """Every published version of a standings table, oldest first: provisional, official,
    and each one a correction made (issue 5, reg 17.3: the old version stays visible).
    """

    async def render(session: AsyncSession) -> Rendered:
        rows = (
            await session.execute(
                text(
                    "SELECT revision, status, entries, published_at FROM standings_history "
                    "WHERE standings_id = :k ORDER BY revision"
                ),
                {"k": _standings_key(distance, gender, category)},
            )
        ).all()
        if not rows:
            raise Problem(404, "No standings", f"no standings for {distance} {gender} {category}")
        people = await _people(session, sorted({e["bib"] for row in rows for e in row.entries}))
        return _json(
            [
                {
                    "revision": row.revision,
                    "status": row.status,
                    "published_at": row.published_at.isoformat(),
                    "entries": _standing_entries(row.entries, people),
                }
                for row in rows
            ]
        )

    return await _page(request, render)


@router.get("/participants")
async def search(
    request: Request,
    name: str = Query(min_length=2, max_length=100),
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=200),
) -> Response:
    """Runners by name (any part of it), with BIB, club, distance and category."""

    async def render(session: AsyncSession) -> Rendered:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await session.execute(
            text(
                "SELECT bib, full_name, club, distance, gender, category, count(*) OVER () AS n "
                "FROM roster WHERE bib IS NOT NULL AND full_name ILIKE :p "
                "ORDER BY full_name, bib LIMIT :l OFFSET :o"
            ),
            {"p": pattern, "l": page_size, "o": (page - 1) * page_size},
        )
        items = rows.all()
        total = items[0].n if items else 0
        if not items and page > 1:  # past the last page: the total still counts every match
            total = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM roster WHERE bib IS NOT NULL AND full_name ILIKE :p"
                    ),
                    {"p": pattern},
                )
            ).scalar_one()
        return _json(
            {
                "page": page,
                "page_size": page_size,
                "total": total,
                "items": [
                    {
                        "bib": int(r.bib),
                        "name": r.full_name,
                        "club": r.club,
                        "distance": r.distance,
                        "gender": r.gender,
                        "category": r.category,
                    }
                    for r in items
                ],
            },
            _total(total),
        )

    return await _page(request, render)


@router.get("/participants/{bib}")
async def participant(request: Request, bib: int) -> Response:
    """One runner by BIB: who, and each race they ran with its result."""

    async def render(session: AsyncSession) -> Rendered:
        person = (
            await session.execute(
                text(
                    "SELECT full_name, club, distance, gender, category FROM roster WHERE bib = :b"
                ),
                {"b": str(bib)},
            )
        ).first()
        if person is None:
            raise Problem(404, "No such BIB", f"BIB {bib} is not a participant")
        race_ids = (
            await session.execute(
                text(
                    "SELECT r.race_id FROM races r JOIN race_chips c USING (race_id) "
                    "WHERE c.bib = :b AND r.published "
                    "UNION SELECT race_id FROM races WHERE published AND start_list @> "
                    "CAST(:j AS jsonb) ORDER BY 1"
                ),
                {"b": bib, "j": json.dumps([{"bib": bib}])},
            )
        ).scalars()
        runs = []
        for race_id in race_ids:
            page = await race_page(session, race_id)
            if page is None:
                continue
            mine = next((r for r in page["results"] if r["bib"] == bib), None)
            runs.append(
                {k: page[k] for k in ("race_id", "round", "heat_number", "status")}
                | {"result": mine}
            )
        return _json(
            {
                "bib": bib,
                "name": person.full_name,
                "club": person.club,
                "distance": person.distance,
                "gender": person.gender,
                "category": person.category,
                "races": runs,
            }
        )

    return await _page(request, render)


@dataclass
class _Gaps:
    """Which changes the stream may send yet: in ``seq`` order, never past a missing one.

    Sequence numbers are taken before commit, so a slower transaction can commit seq 5 after
    seq 6 was sent; a client resuming from 6 would never see 5. The stream therefore stops at
    a gap until it fills, or until ``GAP_WAIT_S`` says its transaction rolled back (a rolled
    back ``nextval`` is never used again).
    """

    since: float | None = None

    def ready(self, position: int, seqs: list[int], now: float) -> int:
        """How many of ``seqs`` (ascending, all after ``position``) can be sent now."""
        expected = position + 1
        count = 0
        for seq in seqs:
            if seq != expected:
                if self.since is None:
                    self.since = now
                if now - self.since < GAP_WAIT_S:
                    return count
            self.since = None
            expected = seq + 1
            count += 1
        return count


@router.get("/stream")
async def stream(request: Request, since: int | None = Query(None, ge=0)) -> StreamingResponse:
    """Server-sent events: one per change of a start list, a race's results or standings.

    Each event's ``id`` is a sequence number; a reconnecting client sends ``Last-Event-ID``
    (or ``since``) and misses nothing.
    """
    runtime: Runtime = request.app.state.runtime
    last = request.headers.get("last-event-id")
    cursor = int(last) if last and last.isdigit() else since

    async def events() -> AsyncIterator[bytes]:
        await _PAGES.listen(runtime)  # wakes the stream at each commit instead of its poll
        position = cursor
        if position is None:
            async with runtime.db.unit_of_work() as session:
                position = (
                    await session.execute(text("SELECT coalesce(max(seq), 0) FROM public_changes"))
                ).scalar_one()
        gaps = _Gaps()
        yield b": copa run results stream\n\n"
        while not await request.is_disconnected():
            async with runtime.db.unit_of_work() as session:
                rows = (
                    await session.execute(
                        text(
                            "SELECT seq, kind, key, revision FROM public_changes WHERE seq > :s "
                            "ORDER BY seq LIMIT 500"
                        ),
                        {"s": position},
                    )
                ).all()
            ready = gaps.ready(position, [row.seq for row in rows], time.monotonic())
            for row in rows[:ready]:
                position = row.seq
                data = json.dumps({"key": row.key, "revision": row.revision})
                yield f"id: {row.seq}\nevent: {row.kind}\ndata: {data}\n\n".encode()
            if ready < len(rows):
                await asyncio.sleep(GAP_RECHECK_S)  # the missing change is still committing
            elif not rows:
                await _PAGES.next_change(STREAM_POLL_S)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
