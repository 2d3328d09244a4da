"""Bounded worker processes for CPU-heavy work that must stay off the event loop."""
