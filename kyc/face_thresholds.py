"""Face match decision thresholds (dlib ResNet descriptor, Euclidean distance).

Calibrated by `make bench-kyc-faces` on every labelled pair in ../shared/data/faces;
benchmarks/README.md holds the FAR/FRR table. Not dlib's published 0.6, which
accepts too many impostors among East Asian faces.
"""

# At or below: same person. The largest threshold with FAR <= 0.1 % on every set
# (pooled FAR 0.00 %, FRR 3.5 % on 4,917 pairs, 2026-11-29).
MATCH_THRESHOLD = 0.56
# Above MATCH and at or below this: a person decides. The largest threshold with
# FAR <= 1 % on every set (pooled FAR 0.82 %, FRR 0.74 %). Above: different people.
REVIEW_THRESHOLD = 0.62
