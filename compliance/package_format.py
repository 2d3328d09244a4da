"""The evidence package's names, shared by the exporter and the offline verifier.

Kept apart from `compliance.evidence` so the verifier imports no database code.
"""

FORMAT = "signroom-evidence/1"
MANIFEST = "manifest.json"
SEAL = "manifest.cms"
