"""Real servers for the whole suite: one PostgreSQL and one Kafka-protocol broker per session
(the ones named by DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, else embedded ones)."""

pytest_plugins = ["copa.testing"]
