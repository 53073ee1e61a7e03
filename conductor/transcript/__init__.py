"""The record of a run: the typed events and their bus (events), the JSONL transcript writer, reader
and summary (jsonl), and the hash chain that makes a changed line show (chain)."""
