"""Reading a request body: JSON (audio as base64) or multipart/form-data (what wx.uploadFile sends), and
strict field helpers shared by every endpoint that takes one.

Types are checked strictly, unknown fields are refused (a misspelt option must not be silently ignored), and
sizes are checked before anything is decoded.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

from werkzeug.exceptions import RequestEntityTooLarge

from .errors import BadRequest, PayloadTooLarge, UnsupportedMedia
from .multipart import parse_form

FILE_FIELDS = ("audio",)  # the one file part
# Form fields are text on the wire: these are read as numbers there, so that both forms hand the validators
# the types the OpenAPI description gives (a JSON number must be a number, never a numeric string).
FORM_NUMBERS = {"prompt_sample_rate": int, "prompt_channels": int, "sample_rate": int, "channels": int,
                "seed": int, "speed": float}


def _not_a_number(field: str, kind) -> BadRequest:
    return BadRequest("invalid_type", case="integer" if kind is int else "number", field=field)


def form_number(value: str, field: str, kind):
    """A number written in a form field (`"16000"`, `"1.5"`); anything else, the empty string included, is
    not one."""
    try:
        number = kind(value.strip())
    except (ValueError, OverflowError):
        try:
            number = float(value.strip()) if kind is int else None  # "16000.0" is the integer 16000
        except (ValueError, OverflowError):
            number = None
        if number is None or not math.isfinite(number) or number != int(number):
            raise _not_a_number(field, kind) from None
        number = int(number)
    return number


def number(value, field: str, kind=float, lo=None, hi=None):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _not_a_number(field, kind)
    if isinstance(value, float) and not math.isfinite(value):  # 1e999 parses as infinity
        raise BadRequest("invalid_type", case="finite", field=field)
    if kind is int and isinstance(value, float) and value != int(value):
        raise BadRequest("invalid_type", case="integer", field=field)
    try:
        number = kind(value)
    except OverflowError:  # an integer beyond any float
        raise BadRequest("invalid_type", case="finite", field=field) from None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise BadRequest(f"invalid_{field}", field=field, lo=lo, hi=hi)
    return number


def choice(value, field: str, allowed: tuple[str, ...], default: str | None):
    if value is None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise BadRequest(f"invalid_{field}", field=field, allowed=", ".join(allowed))
    return value


def _b64(value, max_bytes: int, field: str = "prompt_audio_base64") -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("invalid_type", field=field)
    if "," in value[:100] and value.startswith("data:"):
        value = value.split(",", 1)[1]  # data URL from a browser FileReader
    if len(value) * 3 // 4 > max_bytes + 3:
        raise PayloadTooLarge("audio_too_large", max_mb=max_bytes // (1024 * 1024))
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("invalid_base64", field=field) from None


def _refuse_constant(name: str):
    """JSON's NaN / Infinity / -Infinity (which Python's parser accepts) are not numbers any field takes."""
    raise ValueError(f"non-finite number {name}")


def _refuse_unknown(names: set, files: bool = False) -> None:
    """Refuse unknown fields by name, echoing no more than a short prefix of each (names are caller input:
    a 2 MB name must not come back in the error, and a part without a name is still refused)."""
    if names:
        shown = sorted(str(n)[:20] + ("…" if len(str(n)) > 20 else "") for n in names if n is not None)
        case = ("file" if files else None) if shown else ("unnamed_file" if files else "unnamed")
        raise BadRequest("unknown_field", case=case, names=", ".join(shown[:5]))


def json_fields(body, *, fields: set[str], max_audio_bytes: int,
                b64_field: str = "prompt_audio_base64") -> tuple[dict, bytes | None]:
    """(fields, audio) of a parsed JSON object (an HTTP body, or a WebSocket message): unknown fields refused,
    the audio decoded from base64 within its limit."""
    if not isinstance(body, dict):
        raise BadRequest("invalid_json", case="object")
    _refuse_unknown(set(body) - fields)
    nulls = sorted(name for name, value in body.items() if value is None)
    if nulls:  # null is no value of any field: an absent option is left out, as the OpenAPI description says
        raise BadRequest("invalid_type", case="null", field=nulls[0])
    return body, _b64(body.pop(b64_field, None), max_audio_bytes, b64_field)


def read_body(request, *, max_body_bytes: int, max_audio_bytes: int, fields: set[str],
              b64_field: str = "prompt_audio_base64", format_field: str = "prompt_format",
              json_only: frozenset[str] = frozenset(), forms: bool = True) -> tuple[dict, bytes | None]:
    """(fields, audio) from JSON (audio as base64 in `b64_field`) or multipart/form-data (audio as the file
    part `audio`; `b64_field` and `json_only` are JSON's alone, as the OpenAPI description's forms say).

    Size limits apply before the body is read; unknown fields and unknown file fields are refused. Other
    media types (and, with `forms=False`, multipart too) are 415."""
    request.max_content_length = max_body_bytes
    mimetype = request.mimetype
    try:
        if mimetype == "application/json":
            try:
                body = json.loads(request.get_data(cache=False) or b"null", parse_constant=_refuse_constant)
            except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
                raise BadRequest("invalid_json") from None
            return json_fields(body, fields=fields, max_audio_bytes=max_audio_bytes, b64_field=b64_field)
        if mimetype == "multipart/form-data" and forms:
            parsed = parse_form(request.get_data(cache=False), request.mimetype_params.get("boundary"))
            form = parsed.fields
            _refuse_unknown(set(form) - (fields - json_only - {b64_field}))
            _refuse_unknown(set(parsed.files) - set(FILE_FIELDS), files=True)
            for name, kind in FORM_NUMBERS.items():
                if name in form:
                    form[name] = form_number(form[name], name, kind)
            audio = None
            if "audio" in parsed.files:
                filename, audio = parsed.files["audio"]
                if len(audio) > max_audio_bytes:
                    raise PayloadTooLarge("audio_too_large", max_mb=max_audio_bytes // (1024 * 1024))
                if filename.rsplit(".", 1)[-1].lower() == "pcm":
                    # raw PCM has no magic bytes: only a declaration names it; containers are identified
                    # from their bytes, never from the name
                    form.setdefault(format_field, "pcm")
            return form, audio
    except RequestEntityTooLarge:
        raise PayloadTooLarge(case="limit", max_mb=max_body_bytes // (1024 * 1024)) from None
    raise UnsupportedMedia("unsupported_content_type", case=None if forms else "json_only")
