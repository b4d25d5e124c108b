"""Messages between a patient and her team (docs/messages.md): her messages arrive from the
tablet over the device protocol's ``messages`` addition (stored by ingest), the team reads and
replies here, and the tablet reads the thread as its device."""
