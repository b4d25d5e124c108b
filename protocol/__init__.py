"""The device protocol (MQTT, version 1, ``../shared/docs/device-protocol.md``) in one place:
topics, version, limits, rejection reasons, the message types after parsing, the encodings of
batches, status and receipts, and the parser. The gateway, ingest, the simulators, the
benchmarks and the API's dead-letter routes use it; nothing else spells a topic or a reason."""
