#!/bin/bash
# Creates every topic of the platform with its partitions and retention, from topics.txt
# (generated from copa_contracts.topics.ALL_TOPICS by deploy/generate.py). The broker
# refuses auto-creation, as the services expect: a topic exists only if created here or by a
# service's own start-up check, always with its declared partitions.
set -euo pipefail
bootstrap="${BOOTSTRAP:-kafka:9092}"
kafka_topics=/opt/kafka/bin/kafka-topics.sh
until "$kafka_topics" --bootstrap-server "$bootstrap" --list >/dev/null 2>&1; do
  echo "waiting for the broker at $bootstrap"
  sleep 1
done
while read -r name partitions retention_ms; do
  case "$name" in '' | '#'*) continue ;; esac
  "$kafka_topics" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$name" --partitions "$partitions" --replication-factor 1 \
    --config "retention.ms=$retention_ms"
done < /topics/topics.txt
echo "topics:"
"$kafka_topics" --bootstrap-server "$bootstrap" --describe | grep -E '^Topic:' || true
