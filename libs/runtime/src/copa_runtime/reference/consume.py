"""Run the reference consumer in its own process, so tests can kill it with SIGKILL.

``python -m copa_runtime.reference.consume --database-url URL --bootstrap HOST:PORT
--topic NAME [--delay-s S]``; prints ``applying`` once its first handler runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from copa_runtime.consumer import BatchConsumer, Subscription
from copa_runtime.db import Database
from copa_runtime.reference.pipeline import SERVICE, ping_topic, subscription


def announcing(sub: Subscription) -> Subscription:
    """The same subscription, printing ``applying`` when a batch handler starts."""
    handlers = {}
    for event_type, handler in sub.batch_handlers.items():

        async def announce_then_apply(session, events, _handler=handler):  # type: ignore[no-untyped-def]
            print("applying", flush=True)
            await _handler(session, events)

        handlers[event_type] = announce_then_apply
    return Subscription(name=sub.name, topics=sub.topics, batch_handlers=handlers)


async def main(args: argparse.Namespace) -> None:
    db = Database(args.database_url, service=SERVICE)
    topic = ping_topic(args.topic, partitions=args.partitions)
    consumer = BatchConsumer(
        announcing(subscription(topic, delay_s=args.delay_s)),
        db,
        args.bootstrap,
        service=SERVICE,
        max_records=args.max_records,
    )
    # SIGTERM leaves the group cleanly (SIGKILL, which the tests use, does not).
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await consumer.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--delay-s", type=float, default=0.0)
    parser.add_argument("--max-records", type=int, default=2000)
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
