"""The small interface skills may import: the Skill protocol and its result (skill), the executor,
the workspace and its seals, durable writes, log batching, the progress line, the report model."""
