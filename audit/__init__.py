"""Hash-chained append-only audit log and its verifier.

Imports `store` only, never a feature package.
"""
