"""PKI, contract rendering, PAdES signing, TSA and OCSP/CRL, validation.

Must not import `web`. Built by the contract-signing issue.
"""
