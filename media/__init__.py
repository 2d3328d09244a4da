"""WebRTC calls on aiortc: signalling, forwarding without re-encoding, recording,
frame taps for KYC, ICE/TURN configuration, call quality.

Must not import `web`. One module per object: `call` (the interview and its
participants), `passthrough` (encoded frames out of aiortc's receivers), `fanout`
and `slot` (delivering them), `recording`, `tap`, `signalling`, `ice`, `quality`.
"""
