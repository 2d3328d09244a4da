"""Checking uploaded images before anything decodes them.

A phone upload is untrusted bytes. Before pixels are allocated: size limit, type by
magic bytes (JPEG, PNG, WebP only), and dimensions from the header against a pixel
budget, so a tiny file declaring 50,000 x 50,000 pixels is refused without
allocating it. Then it is decoded, turned upright by its EXIF orientation, and
re-encoded without metadata (EXIF can hold GPS position and device serials); only
the re-encoded bytes are stored.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kyc.errors import (
    CorruptImage,
    RejectedUpload,
    TooLarge,
    TooManyPixels,
    TooSmall,
    UnsupportedType,
)

MAX_UPLOAD_BYTES = 12 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo is 8000 x 6000
MIN_SIDE = 200

_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
)


@dataclass(frozen=True, slots=True)
class SafeImage:
    format: str
    width: int
    height: int
    # Upright BGR pixels for OpenCV and OCR.
    pixels: np.ndarray[Any, Any]
    # What may be stored: upright, metadata stripped, JPEG.
    stored_bytes: bytes


def sniff(data: bytes) -> str:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise UnsupportedType("send a JPEG, PNG or WebP photo", accepted="JPEG, PNG, WebP")


def inspect_upload(
    data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS
) -> SafeImage:
    """Validate, decode and clean an uploaded photo; RejectedUpload says why not."""
    if len(data) > max_bytes:
        raise TooLarge(f"the photo is larger than {max_bytes // (1024 * 1024)} MiB")
    kind = sniff(data)
    try:
        with warnings.catch_warnings():
            # Pillow warns (then errors) on huge images; the explicit check below
            # decides, from the header alone.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            width, height = image.size
            if width * height > max_pixels:
                raise TooManyPixels(
                    f"the photo has {width} x {height} pixels; at most {max_pixels:,} are accepted"
                )
            image.load()
            upright = ImageOps.exif_transpose(image)
    except RejectedUpload:
        raise
    except Image.DecompressionBombError:
        # Pillow's own, larger limit, raised from the header alone.
        raise TooManyPixels(f"the photo has too many pixels; at most {max_pixels:,}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise CorruptImage("the photo is damaged or incomplete; take it again") from None
    if min(upright.size) < MIN_SIDE:
        raise TooSmall(
            f"the photo is too small; at least {MIN_SIDE} pixels on each side", min_side=MIN_SIDE
        )
    rgb = upright.convert("RGB")
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=92)
    pixels = cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)
    return SafeImage(kind, rgb.width, rgb.height, pixels, out.getvalue())


MAX_CLIP_SECONDS = 30.0
MAX_CLIP_PIXELS = 1920 * 1080
# Decoding stops here whatever the container claims (a patched Duration, or
# none): 30 s at 60 frames a second.
MAX_CLIP_FRAMES = int(MAX_CLIP_SECONDS * 60)


def sniff_video(data: bytes) -> str:
    """The container, by magic bytes: WebM/Matroska (browsers' MediaRecorder) or MP4."""
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm"
    if data[4:8] == b"ftyp":
        return ".mp4"
    raise UnsupportedType("send the recording as WebM or MP4", accepted="WebM, MP4")
