"""Typed failures the runtime tells apart."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from sqlalchemy import exc as sa_exc


class PermanentError(Exception):
    """A message that can never be processed (a rule violation, an impossible state).

    Raised by a handler, it sends the message to the dead-letter topic at once, without
    retries; everything else in the batch is still applied.
    """


_INFRASTRUCTURE = (
    OSError,
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
)


def is_infrastructure_failure(exc: BaseException) -> bool:
    """True when the database or the broker failed, not the message.

    Such failures are retried without limit and never dead-lettered: a database restart must
    not turn a stream of valid reads into dead letters.
    """
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        cause = getattr(exc.orig, "__cause__", None)
        if cause is not None and is_infrastructure_failure(cause):
            return True
    if isinstance(exc, KafkaError) and getattr(exc, "retriable", False):
        return True
    return isinstance(exc, _INFRASTRUCTURE)
