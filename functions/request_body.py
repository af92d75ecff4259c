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

FILE_FIELDS = ("audio", "prompt_audio", "file")


def number(value, field: str, kind=float, lo=None, hi=None):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadRequest(f"{field} 必须是数字", code="invalid_type")
    try:
        number = kind(value) if isinstance(value, (int, float)) else kind(str(value).strip())
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(f"{field} 必须是{'整数' if kind is int else '数字'}", code="invalid_type") from None
    if kind is float and not math.isfinite(number):
        raise BadRequest(f"{field} 必须是有限的数字", code="invalid_type")
    if kind is int and isinstance(value, float) and value != int(value):
        raise BadRequest(f"{field} 必须是整数", code="invalid_type")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise BadRequest(f"{field} 超出范围 [{lo}, {hi}]", code=f"invalid_{field}")
    return number


def choice(value, field: str, allowed: tuple[str, ...], default: str | None):
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value not in allowed:
        raise BadRequest(f"{field} 只能是 {', '.join(allowed)}", code=f"invalid_{field}")
    return value


def _b64(value, max_bytes: int, field: str = "prompt_audio_base64") -> bytes | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{field} 必须是字符串", code="invalid_type")
    if "," in value[:100] and value.startswith("data:"):
        value = value.split(",", 1)[1]  # data URL from a browser FileReader
    if len(value) * 3 // 4 > max_bytes + 3:
        raise PayloadTooLarge(f"音频文件过大（上限 {max_bytes // (1024 * 1024)} MB）", code="audio_too_large")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{field} 不是有效的 base64", code="invalid_base64") from None


def _refuse_constant(name: str):
    """JSON's NaN / Infinity / -Infinity (which Python's parser accepts) are not numbers any field takes."""
    raise ValueError(f"non-finite number {name}")


def _refuse_unknown(names: set, what: str = "未知字段") -> None:
    """Refuse unknown fields by name, echoing no more than a short prefix of each (names are caller input:
    a 2 MB name must not come back in the error, and a part without a name is still refused)."""
    if names:
        shown = sorted(("（无名）" if n is None else str(n)[:20] + ("…" if len(str(n)) > 20 else "")) for n in names)
        raise BadRequest(f"{what}：{', '.join(shown[:5])}", code="unknown_field")


def json_fields(body, *, fields: set[str], max_audio_bytes: int,
                b64_field: str = "prompt_audio_base64") -> tuple[dict, bytes | None]:
    """(fields, audio) of a parsed JSON object (an HTTP body, or a WebSocket message): unknown fields refused,
    the audio decoded from base64 within its limit."""
    if not isinstance(body, dict):
        raise BadRequest("请求体必须是 JSON 对象", code="invalid_json")
    _refuse_unknown(set(body) - fields)
    return body, _b64(body.pop(b64_field, None), max_audio_bytes, b64_field)


def read_body(request, *, max_body_bytes: int, max_audio_bytes: int, fields: set[str],
              b64_field: str = "prompt_audio_base64", format_field: str = "prompt_format") -> tuple[dict, bytes | None]:
    """(fields, audio) from JSON (audio as base64 in `b64_field`) or multipart/form-data (audio as a file).

    Size limits apply before the body is read; unknown fields and unknown file fields are refused."""
    request.max_content_length = max_body_bytes
    request.max_form_memory_size = max_body_bytes
    mimetype = request.mimetype
    try:
        if mimetype == "application/json" or (not mimetype and request.content_length):
            try:
                body = json.loads(request.get_data(cache=False) or b"null", parse_constant=_refuse_constant)
            except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
                raise BadRequest("请求体不是有效的 JSON", code="invalid_json") from None
            return json_fields(body, fields=fields, max_audio_bytes=max_audio_bytes, b64_field=b64_field)
        if mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = {k: request.form.get(k) for k in request.form}
            _refuse_unknown(set(form) - fields)
            _refuse_unknown(set(request.files) - set(FILE_FIELDS), "未知文件字段")
            audio = None
            for name in FILE_FIELDS:
                if name in request.files:
                    storage = request.files[name]
                    audio = storage.stream.read(max_audio_bytes + 1)
                    if len(audio) > max_audio_bytes:
                        raise PayloadTooLarge(f"音频文件过大（上限 {max_audio_bytes // (1024 * 1024)} MB）",
                                              code="audio_too_large")
                    ext = (storage.filename or "").rsplit(".", 1)[-1].lower()
                    if ext == "pcm":
                        # raw PCM has no magic bytes: only a declaration names it; containers are identified
                        # from their bytes, never from the name
                        form.setdefault(format_field, "pcm")
                    break
            b64 = _b64(form.pop(b64_field, None), max_audio_bytes, b64_field)
            if audio is not None and b64 is not None:
                raise BadRequest("音频只能通过文件或 base64 其中一种方式提交", code="duplicate_audio")
            return form, audio if audio is not None else b64
    except RequestEntityTooLarge:
        raise PayloadTooLarge(f"请求体过大（上限 {max_body_bytes // (1024 * 1024)} MB）") from None
    raise UnsupportedMedia("请求类型必须是 application/json 或 multipart/form-data", code="unsupported_content_type")
