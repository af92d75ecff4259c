"""multipart/form-data, parsed from the whole body at once.

werkzeug's streaming parser sees the body in the chunks its input hands it, and its decoder has had bugs that
depend on where a chunk boundary falls near a part delimiter: a stray or missing CR/LF in a file part
(pallets/werkzeug#3065, #3088, #3118, #3179 in 3.1.4-3.1.8; #3285, a stray byte, still open in 3.1.9). Where
that depends on how the bytes arrived, the same recording is sometimes refused as corrupt. Fed the whole body
(bounded, like a JSON body) in one piece, the decoder's result depends on the bytes alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from .errors import BadRequest

MAX_PARTS = 64  # the largest form has 13 fields and one file


@dataclass
class Form:
    fields: dict[str | None, str] = field(default_factory=dict)  # the first value of each name
    files: dict[str | None, tuple[str, bytes]] = field(default_factory=dict)  # name -> (filename, content)


def _malformed(case: str = "multipart", **params) -> BadRequest:
    return BadRequest("invalid_request", case=case, **params)


def parse_form(body: bytes, boundary: str | None) -> Form:
    if not boundary or len(boundary) > 200:
        raise _malformed("multipart_boundary")
    decoder = MultipartDecoder(boundary.encode("latin-1", "replace"), max_parts=MAX_PARTS)
    form = Form()
    part: Field | File | None = None
    chunks: list[bytes] = []
    try:
        decoder.receive_data(body)
        decoder.receive_data(None)
        while True:
            event = decoder.next_event()
            if isinstance(event, (NeedData, Epilogue)):
                break
            if isinstance(event, (Field, File)):
                part, chunks = event, []
            elif isinstance(event, Data) and part is not None:
                chunks.append(event.data)
                if not event.more_data:
                    _keep(form, part, b"".join(chunks))
                    part = None
    except ValueError:  # the decoder's word for a malformed body
        raise _malformed() from None
    except RequestEntityTooLarge:  # more parts than MAX_PARTS
        raise _malformed("multipart_parts", max_parts=MAX_PARTS) from None
    if part is not None or not isinstance(event, Epilogue):
        raise _malformed("multipart_incomplete")
    return form


def _keep(form: Form, part: Field | File, content: bytes) -> None:
    name = part.name or None  # a part without a name is kept, under None, to be refused as an unknown field
    if isinstance(part, File) and part.filename is not None:
        form.files.setdefault(name, (part.filename, content))
        return
    try:
        form.fields.setdefault(name, content.decode("utf-8"))
    except UnicodeDecodeError:
        raise _malformed("multipart_utf8", name=str(name)[:20]) from None
