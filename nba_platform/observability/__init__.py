"""Observability: structured run logs (and, as they land, metrics and traces)."""
