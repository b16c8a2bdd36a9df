"""Notifications: e-mails per second rendered and handed to a local SMTP server.

    uv run python bench/notifications.py [--messages 2000]

Starts an ``aiosmtpd`` server in a process of its own (its ``Sink`` handler accepts and drops
every message; in this process it would compete with the senders for the GIL) and, on the
PostgreSQL named by DATABASE_URL or an embedded one, measures in the same run:

* baseline: a bare ``aiosmtplib`` loop sending ready-made messages of the same size over one
  connection, as fast as the server takes them;
* rendering only: the service's Jinja2 templates (text + HTML, gettext, Babel formatting) for
  a mix of templates and the three languages;
* render + send: rendering each message and handing it to the server over one connection
  (no database): what the templates cost on the sending path;
* the service's path: deliveries rendered and recorded in units of work of 100 (as the
  consumer does), then the sender claiming, sending, marking each message and writing its
  ``delivery.sent`` event to the outbox, with the send rate unbounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from benchkit import create_database

from copa.embedded.ports import free_port
from copa_contracts.edition import load_edition
from copa_notifications.config import NotificationSettings
from copa_notifications.deliveries import Addressee, Mail, record
from copa_notifications.render import LANGUAGES, Renderer
from copa_notifications.samples import SAMPLES, sample_context
from copa_notifications.sender import Sender
from copa_notifications.service import definition
from copa_runtime.db import Database
from copa_runtime.migrations import upgrade_async
from copa_runtime.settings import asyncpg_url

SINK = "aiosmtpd.handlers.Sink"
MIX = ["participant-paid", "start-list", "result-official", "kit-reminder", "application-received"]


def start_smtp_server(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", SINK],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise TimeoutError("the SMTP server did not start")


def work(n: int) -> list[tuple[str, str]]:
    return [(MIX[i % len(MIX)], LANGUAGES[i % len(LANGUAGES)]) for i in range(n)]


def message(subject: str, text: str, html: str, to: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Copa Run <noreply@copa.run>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{uuid.uuid4()}@copa.run>"
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


async def bare_loop(port: int, messages: list[EmailMessage]) -> float:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await smtp.connect()
    started = time.perf_counter()
    for mail in messages:
        await smtp.send_message(mail)
    elapsed = time.perf_counter() - started
    await smtp.quit()
    return len(messages) / elapsed


def render_only(renderer: Renderer, n: int) -> float:
    started = time.perf_counter()
    for template, language in work(n):
        renderer.render(template, language, sample_context(template))
    return n / (time.perf_counter() - started)


async def render_and_send(renderer: Renderer, port: int, n: int) -> float:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await smtp.connect()
    started = time.perf_counter()
    for i, (template, language) in enumerate(work(n)):
        out = renderer.render(template, language, sample_context(template))
        await smtp.send_message(message(out.subject, out.text, out.html, f"p{i}@example.kz"))
    elapsed = time.perf_counter() - started
    await smtp.quit()
    return n / elapsed


async def service_path(renderer: Renderer, url: str, port: int, n: int) -> tuple[float, float]:
    await upgrade_async(definition.migrations_dir, url)
    db = Database(url, service="notifications")
    try:
        started = time.perf_counter()
        event_id = uuid.uuid4()
        items = work(n)
        for chunk in range(0, n, 100):
            mails = [
                Mail(
                    Addressee(f"p{i}@example.kz", language, "Aigerim", "Sample", uuid.uuid4()),
                    template,
                    SAMPLES[template],
                )
                for i, (template, language) in enumerate(items[chunk : chunk + 100], start=chunk)
            ]
            async with db.unit_of_work() as session:
                await record(
                    session,
                    renderer,
                    mails,
                    event_id=event_id,
                    kind="event",
                    trigger_event_type="bench",
                    now=datetime.now(UTC),
                )
        config = NotificationSettings(  # type: ignore[call-arg]
            COPA_NOTIFICATIONS_SEND_RATE=1_000_000, COPA_NOTIFICATIONS_BATCH_SIZE=200
        )
        sender = Sender(db, f"smtp://127.0.0.1:{port}", config)
        sent_started = time.perf_counter()
        while await sender.send_due():
            pass
        done = time.perf_counter()
        await sender.close()
        assert sender.sent == n, f"sent {sender.sent} of {n}"
        return n / (done - started), n / (done - sent_started)
    finally:
        await db.dispose()


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    server = start_smtp_server(port)
    with ExitStack() as stack:
        stack.callback(server.wait)
        stack.callback(server.terminate)
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            from copa.embedded.postgres import EmbeddedPostgres

            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="copa-bench-")))
            pg = EmbeddedPostgres(tmp / "pgdata", durable=True)
            pg.start()
            stack.callback(pg.stop)
            database_url = pg.url_for("postgres")
        url = await create_database(asyncpg_url(database_url), "bench_notifications")
        renderer = Renderer(load_edition("2024"), public_results_url="https://copa.run/results")
        n = args.messages
        sample = renderer.render("result-official", "ru", sample_context("result-official"))
        ready = [
            message(sample.subject, sample.text, sample.html, f"p{i}@example.kz") for i in range(n)
        ]
        baseline = await bare_loop(port, ready)
        rendered = render_only(renderer, n)
        both = await render_and_send(renderer, port, n)
        end_to_end, sending = await service_path(renderer, url, port, n)

    print(f"messages: {n} per figure; mix of {len(MIX)} templates x {len(LANGUAGES)} languages")
    print(f"{'figure':<58}{'value':>12}{'vs bare':>10}")
    rows = [
        ("bare aiosmtplib send loop, one connection (baseline)", baseline),
        ("render only (text + HTML, gettext, Babel)", rendered),
        ("render + send, one connection, no database", both),
        ("service: render+record, then claim/send/mark+outbox", end_to_end),
        ("service sender alone: claim/send/mark+outbox", sending),
    ]
    for name, value in rows:
        print(f"{name:<58}{value:>10,.0f}/s{value / baseline:>9.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
