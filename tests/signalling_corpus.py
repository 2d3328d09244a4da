"""Malformed signalling messages with the error code each must get."""

from __future__ import annotations

import json


def _candidate_message(line: str) -> str:
    return json.dumps({"type": "candidate", "candidate": {"candidate": line}})


MALFORMED: list[tuple[str | bytes, str]] = [
    ("not json", "bad_json"),
    (b"\xff\xfe\x00garbage", "bad_json"),
    ("[1, 2, 3]", "bad_json"),
    ('"offer"', "bad_json"),
    ("{}", "unknown_type"),
    ('{"type": "hello"}', "unknown_type"),
    ('{"type": null}', "unknown_type"),
    ('{"type": "offer"}', "bad_sdp"),
    ('{"type": "offer", "sdp": 42}', "bad_sdp"),
    ('{"type": "offer", "sdp": "hello"}', "bad_sdp"),
    ('{"type": "offer", "sdp": "v=0\\r\\ns=-\\r\\n"}', "bad_sdp"),
    (json.dumps({"type": "offer", "sdp": "v=0\r\nm=" + "a" * 50_000}), "too_large"),
    (json.dumps({"type": "offer", "sdp": "v=0", "pad": "x" * 70_000}), "too_large"),
    ('{"type": "candidate"}', "bad_candidate"),
    ('{"type": "candidate", "candidate": "a string"}', "bad_candidate"),
    ('{"type": "candidate", "candidate": {"candidate": 7}}', "bad_candidate"),
    ('{"type": "candidate", "candidate": {"candidate": "x", "sdpMid": 1}}', "bad_candidate"),
    (
        '{"type": "candidate", "candidate": {"candidate": "x", "sdpMLineIndex": true}}',
        "bad_candidate",
    ),
    (json.dumps({"type": "candidate", "candidate": {"candidate": "c" * 2000}}), "bad_candidate"),
    ('{"type": "candidate", "candidate": {"candidate": "candidate:1 1 udp"}}', "bad_candidate"),
    (_candidate_message("candidate:1 1 udp 9 1.2.3.4 99999 typ host"), "bad_candidate"),
    (_candidate_message("candidate:1 1 sctp 9 1.2.3.4 5 typ host"), "bad_candidate"),
    (_candidate_message("candidate:1 1 udp 9 1.2.3.4 5 type host"), "bad_candidate"),
    # A browser's mDNS name: not an address the server can use, nor should look up.
    (
        _candidate_message("candidate:1 1 udp 9 2b6b7c1e-4d53-4d5c-9b0c-6f2a.local 5 typ host"),
        "bad_candidate",
    ),
    (_candidate_message("candidate:1 1 udp 9 example.com 5 typ host"), "bad_candidate"),
    ("[" * 30_000, "bad_json"),
    ('{"type": "offer", "sdp": ' + "[" * 20_000 + "]" * 20_000 + "}", "bad_json"),
]
