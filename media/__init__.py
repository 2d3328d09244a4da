"""WebRTC calls on aiortc: signalling, forwarding without re-encoding, recording,
frame taps for KYC, ICE/TURN configuration, call quality.

Imports no other package of ours. One module per object: `call` (the interview and its
participants), `rtp_intercept` (RTP packets out of aiortc's receivers), `fanout`
(delivering them), `rtp_output` (relaying them onto the server's senders),
`keyframes`, `recording`, `tap`, `signalling`, `ice`, `quality`, and `actions`
(the audit action names a call reports).
"""
