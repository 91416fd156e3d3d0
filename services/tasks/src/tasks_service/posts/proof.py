"""Proof checks: what a file really is (magic bytes, never its name or declared type), and
whether a post carries what the task's content guidance accepts."""

from __future__ import annotations

from dataclasses import dataclass

from rally_shared.errors import Unprocessable, UnsupportedMediaType

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def sniff_image(data: bytes) -> str | None:
    """The image content type of `data` by its leading bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str
    declared_type: str


@dataclass(frozen=True)
class Proof:
    """A validated submission: normalised text, rating, and the file with its real type."""

    text: str | None
    rating: int | None
    file: Upload | None
    content_type: str | None

    @property
    def types(self) -> list[str]:
        kinds = []
        if self.text:
            kinds.append("text")
        if self.file is not None:
            kinds.append("image")
        if self.rating is not None:
            kinds.append("rating")
        return kinds


def parse_rating(raw: object) -> int | None:
    """A rating 1-5 from JSON (a whole number) or a form field (digits); None when absent."""
    if raw is None or raw == "":
        return None
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw.strip())
    if value is None or not 1 <= value <= 5:
        raise Unprocessable("rating: must be a whole number from 1 to 5.", code="invalid_rating")
    return value


def check_proof(text: object, rating: object, file: Upload | None, *, accepted: list[str],
                max_text: int) -> Proof:
    """Validate a submission against the task's accepted proof types.

    A post must carry at least one accepted type; text is always allowed as a caption, but a
    rating or an image the task does not accept is refused (422). A file that is not a PNG,
    JPEG, GIF or WebP by its bytes is refused with 415, whatever its name or declared type.
    """
    if text is not None and not isinstance(text, str):
        raise Unprocessable("text: must be a string.", code="invalid_text")
    clean = text.strip() if isinstance(text, str) else ""
    if len(clean) > max_text:
        raise Unprocessable(f"text: at most {max_text} characters.", code="text_too_long")
    value = parse_rating(rating)
    content_type = None
    if file is not None:
        if not file.data:
            raise Unprocessable("file: the uploaded file is empty.", code="empty_file")
        content_type = sniff_image(file.data)
        if content_type is None:
            raise UnsupportedMediaType(
                "file: only PNG, JPEG, GIF and WebP images are accepted (checked by content).",
                details={"declaredType": file.declared_type, "accepted": list(IMAGE_TYPES)})
    proof = Proof(text=clean or None, rating=value, file=file, content_type=content_type)
    unexpected = [k for k in proof.types if k != "text" and k not in accepted]
    if unexpected:
        raise Unprocessable(
            f"This task does not accept {', '.join(unexpected)} proof; it accepts "
            f"{', '.join(accepted)}.", code="wrong_proof_type",
            details={"accepted": accepted, "given": proof.types})
    if not any(k in accepted for k in proof.types):
        raise Unprocessable(
            f"This task needs proof of type {' or '.join(accepted)}.", code="wrong_proof_type",
            details={"accepted": accepted, "given": proof.types})
    return proof
