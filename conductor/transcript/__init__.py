"""The record of a run: the typed events and their bus (events), the JSONL transcript writer, reader
and summary (jsonl), and the redaction applied before anything is written (redact)."""
