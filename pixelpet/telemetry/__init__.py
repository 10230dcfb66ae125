"""Traces, metrics and logs: what an engineer on call sees."""
