"""The agent's model behind one interface (base): the Anthropic Messages API (anthropic_provider, with
its price table in pricing) and a scripted provider for tests; the autopilot policy is in the engine."""
