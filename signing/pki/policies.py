"""Object identifiers this service puts in its certificates and time-stamp tokens.

UUID-derived OIDs (arc 2.25, ITU-T X.667) need no registration and cannot clash.
"""

from __future__ import annotations

from cryptography import x509

# A one-signature certificate issued to an applicant after identity verification.
EVENT_CERTIFICATE_POLICY = x509.ObjectIdentifier("2.25.211861338217216826345376392226370569961")
# Issued only by `signroom signing selftest`: proves a setup, signs nothing real.
TEST_CERTIFICATE_POLICY = x509.ObjectIdentifier("2.25.36993215640788342094212063522932858123")
# The bank's organisational seal.
SEAL_CERTIFICATE_POLICY = x509.ObjectIdentifier("2.25.128617399937011416785546474466612417437")
# The built-in time-stamping authority's policy (TSTInfo.policy).
TSA_POLICY = "2.25.283062226307497787806569574616383591245"

TEST_SUBJECT_MARK = "TEST CERTIFICATE - NOT FOR REAL SIGNATURES"
