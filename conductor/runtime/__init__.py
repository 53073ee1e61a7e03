"""What skills may import: the Skill protocol (skill), executor, workspace and seals, durable redacted writes,
redaction of text and files (redact, scrub), log batching, progress line, clock, report, subcommands (command)."""
