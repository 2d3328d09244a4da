"""One interview's orchestration: the video call's bookkeeping and the contract's
signing flow, step by step, each step stored and audited.

Takes its services as an explicit `InterviewServices` and raises domain errors
(interview/errors.py), never HTTP ones. May import compliance, integration, media,
kyc, signing, loans, audit, store and workers; never config, web or cli.
"""
