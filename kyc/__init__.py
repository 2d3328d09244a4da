"""Identity verification: document OCR and field checks, face match, liveness.

May import `signing`, `loans`, `audit` and `store`; never `web` or `media`.
"""
