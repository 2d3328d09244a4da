"""Several nodes: each registers in Redis while it heartbeats; a call lives on
one node, recorded in PostgreSQL with a fencing epoch; signalling that reaches
any node is relayed to the call's node over a Redis message bus; the calls of a
node that stops heartbeating move to a live one.

The pattern is LiveKit's. Redis holds only what may be lost (who is alive, the
bus): every decision that must survive is in the database. Imports store/,
errors/ and media/'s data types; never web/.
"""
