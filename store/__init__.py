"""Storage: database engine, schema and migrations, content-addressed blob store.

Imports none of the feature packages.
"""
