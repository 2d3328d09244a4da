"""Identity judged on the video the server itself receives over WebRTC: the
applicant's verification session before the interview (random challenges the
server issues and times, face match on frames it decoded), recorded and sealed
like a call segment. The upload path of kyc stays as the marked fallback."""
