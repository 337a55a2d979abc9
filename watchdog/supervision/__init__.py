"""Supervision of the inference worker: spawn or attach, health checks, restarts, memory budget."""
