"""Photos a customer attaches to an "Arrived damaged" return: checked by content, stored privately.

A file is accepted only if Pillow decodes it completely as JPEG, PNG or WebP (its name and the
browser's content type are ignored: a renamed PDF or script is refused), within the size limit and
at most :data:`MAX_PIXELS`. It is then re-encoded — which drops EXIF data such as the GPS position
of the phone — and written with a random name and owner-only permissions into the photos folder
beside the service database. No route serves that folder.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from returnrisk.errors import InputError

__all__ = ["FORMATS", "MAX_PIXELS", "PhotoRejected", "StoredPhoto", "check_photo", "save_photo"]

#: Largest image accepted, in pixels (a 12-megapixel phone photo is 12,000,000).
MAX_PIXELS = 50_000_000
#: Accepted formats (Pillow's name → content type, file extension).
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


class PhotoRejected(InputError):
    code = "photo_rejected"

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason   # too_large | not_an_image | too_many_pixels | empty


@dataclass(frozen=True)
class StoredPhoto:
    photo_id: str
    file_name: str
    content_type: str
    bytes: int
    width: int
    height: int
    sha256: str

    def row(self) -> dict:
        return {"photo_id": self.photo_id, "file_name": self.file_name, "content_type": self.content_type,
                "bytes": self.bytes, "width": self.width, "height": self.height, "sha256": self.sha256}


def check_photo(data: bytes, max_bytes: int) -> Image.Image:
    """The decoded image, or :class:`PhotoRejected` saying why."""
    if not data:
        raise PhotoRejected("empty", "the file is empty")
    if len(data) > max_bytes:
        raise PhotoRejected("too_large", f"the file is {len(data) / 1e6:.1f} MB: at most {max_bytes / 1e6:.1f} MB")
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise PhotoRejected("too_many_pixels", f"the image is {probe.width}×{probe.height} pixels: too large")
            probe.verify()
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        image.load()
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRejected("not_an_image", "the file is not a JPEG, PNG or WebP photo") from None
    return image


def save_photo(data: bytes, folder: Path, max_bytes: int) -> StoredPhoto:
    """Check ``data`` (:func:`check_photo`), re-encode it without metadata and write it into ``folder``."""
    image = check_photo(data, max_bytes)
    kind = image.format or "JPEG"
    content_type, extension = FORMATS[kind]
    image = ImageOps.exif_transpose(image)
    if kind == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    options = {"quality": 90} if kind in ("JPEG", "WEBP") else {}
    image.save(out, format=kind, **options)
    encoded = out.getvalue()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    photo_id = secrets.token_hex(16)
    name = f"{photo_id}.{extension}"
    temporary = folder / f".{name}.part"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(encoded)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / name)
    return StoredPhoto(photo_id, name, content_type, len(encoded), image.width, image.height,
                       hashlib.sha256(encoded).hexdigest())
