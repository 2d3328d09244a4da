"""WebRTC rooms on aiortc: signalling, forwarding, recording, frame taps for KYC.

Must not import `web`. Built by the live-interview issue.
"""
