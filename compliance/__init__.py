"""What compliance holds after a loan: the evidence package and its offline verifier,
the review timeline of a recorded interview, and retention of closed cases' data.

May import audit, signing, kyc, media's data types, loans, store and workers; never
web. `compliance.evidence_check` is what `signroom verify-evidence` runs on a machine
with nothing else, so it stays clear of the database and the service.
"""
