"""Prometheus metrics of the gateway (one set per process, served by ``kol-gateway``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_RECEIVED = Counter("kol_gateway_messages_received_total",
                            "MQTT messages received, by kind", ["kind"])
READINGS_ACCEPTED = Counter("kol_gateway_readings_accepted_total", "Readings newly stored")
READINGS_DUPLICATE = Counter("kol_gateway_readings_duplicate_total",
                             "Readings already stored (same patient, type, measured_at)")
MESSAGES_DUPLICATE = Counter("kol_gateway_messages_duplicate_total",
                             "Batches already ingested (same device and msg_id)")
REJECTED = Counter("kol_gateway_rejected_total",
                   "Rejected readings or messages, by reason", ["reason"])
DEAD_LETTER_BYTES = Counter("kol_gateway_dead_letter_bytes_total",
                            "Payload bytes stored as dead letters (once per message, capped)")
DEAD_LETTERS_SUPPRESSED = Counter(
    "kol_gateway_dead_letters_suppressed_total",
    "Rejected messages receipted but not stored: their device was over its hourly budget")
POISONED = Gauge("kol_gateway_poisoned_messages",
                 "Messages the database refused, dead-lettered internal_error, since the start")
BATCH_MESSAGES = Histogram("kol_gateway_batch_messages", "Messages per ingest transaction",
                           buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000))
BATCH_READINGS = Histogram("kol_gateway_batch_readings", "Readings per ingest transaction",
                           buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000))
COMMIT_SECONDS = Histogram("kol_gateway_commit_seconds",
                           "Time from a batch closing to its commit, retries included",
                           buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60))
COMMIT_RETRIES = Gauge("kol_gateway_commit_retries",
                       "Ingest transactions retried after a database error since the start")
BACKLOG = Gauge("kol_gateway_backlog_messages", "Received messages waiting for their commit")
CONNECTED = Gauge("kol_gateway_broker_connected", "1 while connected to the broker")
