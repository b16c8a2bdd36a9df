"""Real servers started locally: PostgreSQL, a Kafka-protocol broker, an SMTP sink.

Each is a small class with ``start()``, ``stop()`` and a URL, used both by ``copa up`` and by
the pytest fixtures in :mod:`copa.testing`, so that tests run against the very servers a
developer runs.
"""

from copa.embedded.kafka import BrokerError, EmbeddedKafka
from copa.embedded.ports import PortInUseError, ensure_port_free, free_port, port_is_free
from copa.embedded.postgres import EmbeddedPostgres, PostgresError
from copa.embedded.smtp import ReceivedMail, SmtpSink

__all__ = [
    "BrokerError",
    "EmbeddedKafka",
    "EmbeddedPostgres",
    "PortInUseError",
    "PostgresError",
    "ReceivedMail",
    "SmtpSink",
    "ensure_port_free",
    "free_port",
    "port_is_free",
]
