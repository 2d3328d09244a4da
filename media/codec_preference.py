"""Which video codec the participants send: VP8 whenever a browser offers it.

A browser sends with the first codec of the answer it gets, and aiortc answers in
the order of the offer (the order of its `a=rtpmap` lines, not of the `m=` line).
Safari lists H.264 first, Chrome and Firefox VP8. Left alone, an iPhone would send
H.264 to a manager whose browser agreed on VP8: the relay forwards packets
unchanged, so the two sides must send the same codec, and the recording is WebM,
which holds VP8 and not H.264. The server therefore moves VP8 to the front of each
video section of the offer before answering it, in the `m=` line and in the
formats' attribute lines.
"""

from __future__ import annotations

import itertools
import re

_MEDIA = re.compile(r"^m=(\w+) (\S+) (\S+)(?: (.*))?$")
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([^/\s]+)/")
_FMTP_APT = re.compile(r"^a=fmtp:(\d+) .*\bapt=(\d+)")
_FORMAT_ATTRIBUTE = re.compile(r"^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ \t]")


def prefer_vp8(sdp: str) -> str:
    """`sdp` with VP8 (and its retransmission format) first in each video
    section that offers it; everything else unchanged, in its order."""
    return prefer_video_codec(sdp, "VP8")


def prefer_video_codec(sdp: str, codec: str) -> str:
    """`sdp` with `codec` (and its retransmission formats) first in each video
    section that offers it."""
    lines = sdp.splitlines()
    changed = False
    sections = [i for i, line in enumerate(lines) if line.startswith("m=")] + [len(lines)]
    for start, end in itertools.pairwise(sections):
        match = _MEDIA.match(lines[start])
        if match is None or match.group(1) != "video" or not match.group(4):
            continue
        formats = match.group(4).split()
        body = lines[start + 1 : end]
        names = {m.group(1): m.group(2) for m in map(_RTPMAP.match, body) if m}
        retransmits = {m.group(2): m.group(1) for m in map(_FMTP_APT.match, body) if m}
        first = [f for f in formats if names.get(f, "").upper() == codec.upper()]
        first += [retransmits[f] for f in first if retransmits.get(f) in formats]
        ordered = first + [f for f in formats if f not in first]
        if ordered == formats:
            continue
        changed = True
        lines[start] = "m=" + " ".join([*match.group(1, 2, 3), *ordered])
        _reorder_attributes(lines, range(start + 1, end), ordered)
    return "\r\n".join(lines) + "\r\n" if changed else sdp


def _reorder_attributes(lines: list[str], section: range, ordered: list[str]) -> None:
    """Put the formats' own attribute lines in `ordered`'s order, in the places
    such lines held; every other line stays where it was."""
    rank = {f: n for n, f in enumerate(ordered)}
    places = []
    keys = {}
    for i in section:
        found = _FORMAT_ATTRIBUTE.match(lines[i])
        if found is not None:
            places.append(i)
            keys[i] = rank.get(found.group(1), len(rank))
    moved = [lines[i] for i in sorted(places, key=keys.__getitem__)]
    for place, line in zip(places, moved, strict=True):
        lines[place] = line
