"""Read a proof submission from the request: JSON, or multipart with the file in `file`.

The body is read through a byte counter, so an oversized upload is refused with 413 as soon
as it passes the limit, without buffering it all (a Content-Length above it is refused at once).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from rally_shared.errors import BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from tasks_service.posts.proof import Upload

# Room for the multipart boundaries, part headers and the text/rating fields.
FORM_OVERHEAD = 256 * 1024


@dataclass(frozen=True)
class Submission:
    text: object
    rating: object
    file: Upload | None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The upload is larger than {limit} bytes.", details={"maxBytes": limit})


async def _limited(stream: AsyncIterator[bytes], limit: int, max_file: int) -> AsyncGenerator[bytes]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise _too_large(max_file)
        yield chunk


async def read_submission(request: Request, max_file: int, max_text: int) -> Submission:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body_limit = max_file + FORM_OVERHEAD if ctype == "multipart/form-data" else max_text * 4 + 4096
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit:
        raise _too_large(max_file)
    stream = _limited(request.stream(), body_limit, max_file)
    if ctype == "multipart/form-data":
        return await _multipart(request, stream, max_file)
    if ctype in ("application/json", ""):
        raw = b"".join([chunk async for chunk in stream])
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise BadRequest("The request body is not valid JSON.", code="malformed_json") from exc
        if not isinstance(body, dict):
            raise Unprocessable("The body must be a JSON object {text?, rating?}.")
        return Submission(text=body.get("text"), rating=body.get("rating"), file=None)
    raise UnsupportedMediaType("Send JSON or multipart/form-data.",
                               details={"contentType": ctype})


async def _multipart(request: Request, stream: AsyncGenerator[bytes], max_file: int) -> Submission:
    parser = MultiPartParser(request.headers, stream, max_files=1, max_fields=10,
                             max_part_size=64 * 1024)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"Malformed multipart body: {exc.message}", code="malformed_multipart") from exc
    try:
        upload: Upload | None = None
        item = form.get("file")
        if isinstance(item, UploadFile):
            data = await item.read(max_file + 1)
            if len(data) > max_file:
                raise _too_large(max_file)
            upload = Upload(data=data, filename=item.filename or "",
                            declared_type=item.content_type or "")
        elif item not in (None, ""):
            raise Unprocessable("file: must be a file part.", code="invalid_file")
        fields = {k: form.get(k) for k in ("text", "rating")}
        for k, v in fields.items():
            if isinstance(v, UploadFile):
                raise Unprocessable(f"{k}: must be a plain field.")
        return Submission(text=fields["text"], rating=fields["rating"], file=upload)
    finally:
        await form.close()
