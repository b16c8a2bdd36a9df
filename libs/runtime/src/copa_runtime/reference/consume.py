"""Run the reference consumer in its own process, so tests can kill it with SIGKILL.

``python -m copa_runtime.reference.consume --database-url URL --bootstrap HOST:PORT
--topic NAME [--delay-s S]``; prints ``applying`` once its first handler runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from copa_runtime.consumer import BatchConsumer, Subscription
from copa_runtime.db import Database
from copa_runtime.reference.pipeline import SERVICE, ping_topic, subscription


def announcing(sub: Subscription) -> Subscription:
    handlers = {}
    for event_type, handler in sub.handlers.items():

        async def first_announces(session, event, envelope, _handler=handler):  # type: ignore[no-untyped-def]
            print("applying", flush=True)
            await _handler(session, event, envelope)

        handlers[event_type] = first_announces
    return Subscription(name=sub.name, topics=sub.topics, handlers=handlers)


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
