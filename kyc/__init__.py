"""Identity verification: document OCR and field checks, face match, liveness.

Must not import `web`. Built by the identity-verification issue.
"""
