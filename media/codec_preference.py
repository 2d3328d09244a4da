"""Which video codec the participants send: the same one, VP8 when it can be.

A browser sends with the first codec of the answer it gets, and aiortc answers in
the order of the offer (the order of its `a=rtpmap` lines, not of the `m=` line).
Safari lists H.264 first, Chrome and Firefox VP8. The relay forwards packets
unchanged, so a participant can only see the other's video in a codec its own
answer lists. The server therefore moves a codec to the front of each video
section of the offer before answering it (in the `m=` line and in the formats'
attribute lines): the codec the other participant already sends, when there is
one and this offer has it, otherwise VP8. A browser without VP8 (H.264 only) is
answered H.264; media.call then asks the other participant, if it is sending VP8
and can send H.264, to connect again, so that both send H.264.
"""

from __future__ import annotations

import itertools
import re

_MEDIA = re.compile(r"^m=(\w+) (\S+) (\S+)(?: (.*))?$")
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([^/\s]+)/")
_FMTP_APT = re.compile(r"^a=fmtp:(\d+) .*\bapt=(\d+)")
_FORMAT_ATTRIBUTE = re.compile(r"^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ \t]")
# Formats that carry no picture of their own.
_NOT_CODECS = frozenset({"rtx", "red", "ulpfec", "flexfec-03"})


def prefer_video_codecs(sdp: str, *codecs: str) -> str:
    """`sdp` with the first of `codecs` it offers first in each video section."""
    for codec in reversed(codecs):
        sdp = prefer_video_codec(sdp, codec)
    return sdp


def video_codecs(sdp: str) -> list[str]:
    """The video codecs (lower case) of the first video section, in its order."""
    lines = sdp.splitlines()
    for start, line in enumerate(lines):
        match = _MEDIA.match(line)
        if match is None or match.group(1) != "video":
            continue
        names = {}
        for attribute in lines[start + 1 :]:
            if attribute.startswith("m="):
                break
            if found := _RTPMAP.match(attribute):
                names[found.group(1)] = found.group(2).lower()
        formats = (match.group(4) or "").split()
        found_names = [names[f] for f in formats if f in names]
        return [n for n in dict.fromkeys(found_names) if n not in _NOT_CODECS]
    return []


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
