"""The one catalog of error codes: for every code the service can emit, its HTTP status, its message in Chinese
(the default) and in English, and the Retry-After it carries by default.

Raise sites name a code and its parameters only (`BadRequest("text_too_long", field=..., length=..., ...)`);
messages are `str.format` templates with named fields. A code whose message depends on what exactly went wrong
has `cases` (`ApiError("audio_corrupt", case="truncated")`), each with both languages, all under the code's one
status. The OpenAPI description's ErrorCode enum, docs/api.md's error table and the mini program's message
table (examples/miniprogram/lib/errors.js) list these codes; tests/unit/test_error_codes.py keeps them equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


@dataclass(frozen=True)
class Code:
    status: int
    zh: str
    en: str
    retry_after: int | None = None  # seconds; 503s without one get the error map's RETRY_AFTER_S
    cases: dict[str, tuple[str, str]] = field(default_factory=dict)  # case -> (zh, en)

    def template(self, lang: str = DEFAULT_LANGUAGE, case: str | None = None) -> str:
        zh, en = (self.zh, self.en) if case is None else self.cases[case]
        return en if lang == "en" else zh


def _c(status: int, zh: str, en: str, retry_after: int | None = None, **cases: tuple[str, str]) -> Code:
    return Code(status, zh, en, retry_after, cases)


# Families of codes named after a request field (`text_too_long`, `invalid_speed`): one template, the field a
# parameter.
_MISSING = ("缺少 {field}", "{field} is required")
_REQUIRED = {"empty": ("{field} 不能为空", "{field} must not be empty"),
             "markup_only": ("{field} 不能只有标记", "{field} must not be markup alone")}
_TOO_LONG = ("{field} 过长：{length} 字，上限 {max_chars} 字",
             "{field} is too long: {length} characters, at most {max_chars}")
_CONTROL = ("{field} 含有不允许的控制字符", "{field} contains control characters that are not allowed")
_TOKENS = {"model_tokens": ("{field} 不能包含模型控制标记 <| |>",
                            "{field} must not contain model control tokens <| |>")}
_RANGE = ("{field} 超出范围 [{lo}, {hi}]", "{field} is out of range [{lo}, {hi}]")
_ONE_OF = ("{field} 只能是 {allowed}", "{field} must be one of: {allowed}")
_MARKUP = "文本标记格式错误：", "Malformed text markup: "


def _markup(zh: str, en: str) -> tuple[str, str]:
    return _MARKUP[0] + zh, _MARKUP[1] + en


CODES: dict[str, Code] = {
    # 400: the request
    "invalid_request": _c(
        400, "请求参数无效", "Invalid request parameters",
        body_encoding=("请求体编码无效", "The request body's encoding is invalid"),
        multipart=("multipart 请求体格式错误", "Malformed multipart body"),
        multipart_boundary=("multipart 请求缺少 boundary", "The multipart request has no boundary"),
        multipart_parts=("multipart 请求的字段过多（上限 {max_parts} 个）",
                         "Too many parts in the multipart request (at most {max_parts})"),
        multipart_incomplete=("multipart 请求体不完整", "The multipart body is incomplete"),
        multipart_utf8=("表单字段 {name} 不是有效的 UTF-8 文本", "Form field {name} is not valid UTF-8 text")),
    "bad_request": _c(400, "请求无效", "Bad request"),
    "http_error": _c(400, "请求无法处理", "The request cannot be processed"),
    "invalid_json": _c(
        400, "请求体不是有效的 JSON", "The request body is not valid JSON",
        object=("请求体必须是 JSON 对象", "The request body must be a JSON object"),
        text_message=("请求必须是 JSON 文本消息", "A request must be a JSON text message"),
        message=("请求不是有效的 JSON", "The request is not valid JSON")),
    "invalid_type": _c(
        400, "{field} 必须是字符串", "{field} must be a string",
        integer=("{field} 必须是整数", "{field} must be an integer"),
        number=("{field} 必须是数字", "{field} must be a number"),
        finite=("{field} 必须是有限的数字", "{field} must be a finite number"),
        null=("{field} 不能为 null（不需要的字段请省略）",
              "{field} must not be null (leave out a field you do not need)")),
    "unknown_field": _c(
        400, "未知字段：{names}", "Unknown field: {names}",
        file=("未知文件字段：{names}", "Unknown file field: {names}"),
        unnamed=("未知字段：（无名）", "Unknown field: (unnamed)"),
        unnamed_file=("未知文件字段：（无名）", "Unknown file field: (unnamed)")),
    "invalid_base64": _c(400, "{field} 不是有效的 base64", "{field} is not valid base64"),
    "invalid_code": _c(400, "code 格式无效", "The code is malformed"),
    "model_required": _c(400, "需要 model（例如 cosyvoice3）", "model is required (for example cosyvoice3)"),
    "voice_required": _c(400, "voice 不能为空：填 voice_id 或 default",
                         "voice must not be empty: a voice_id or default"),
    "invalid_stream_format": _c(400, "stream_format 只能是 audio 或 sse", "stream_format must be audio or sse"),
    # 400: texts
    "text_required": _c(400, *_MISSING, **_REQUIRED),
    "text_too_long": _c(400, *_TOO_LONG),
    "text_invalid_chars": _c(400, *_CONTROL, **_TOKENS),
    "instruct_required": _c(400, *_MISSING, **_REQUIRED, mode=(
        "instruct 模式需要 instruct（风格或方言说明）", "mode instruct needs an instruct (a style or a dialect)")),
    "instruct_too_long": _c(400, *_TOO_LONG),
    "instruct_invalid_chars": _c(400, *_CONTROL, **_TOKENS),
    "prompt_text_required": _c(400, *_MISSING, **_REQUIRED, mode=(
        "zero_shot 模式需要 prompt_text（录音对应的文字）",
        "mode zero_shot needs prompt_text (what the recording says)")),
    "prompt_text_too_long": _c(400, *_TOO_LONG),
    "prompt_text_invalid_chars": _c(400, *_CONTROL, **_TOKENS),
    "name_too_long": _c(400, *_TOO_LONG),
    "name_invalid_chars": _c(400, *_CONTROL, **_TOKENS),
    "invalid_markup": _c(
        400, "文本标记格式错误", "Malformed text markup",
        orphan_initial=_markup("声母 [{initial}] 后面必须紧跟韵母，如 [h][ào]",
                               "the initial [{initial}] must be followed by its final, as in [h][ào]"),
        unknown_bracket=_markup("无法识别的方括号标记 [{tag}]（支持 [h][ào] 或 [hao4] 这样的拼音、英文音素和"
                                " [breath] 等音效标签）",
                                "unknown bracket tag [{tag}] (pinyin such as [h][ào] or [hao4], English phonemes "
                                "and sound tags such as [breath] are supported)"),
        unopened=_markup("</{name}> 没有对应的开始标签", "</{name}> has no opening tag"),
        empty_span=_markup("<{name}> 标签内没有文字", "<{name}> has no text inside"),
        nested=_markup("标签不能嵌套", "tags cannot be nested"),
        unsupported_tag=_markup("不支持的标签 <{tag}>", "unsupported tag <{tag}>"),
        unpaired=_markup("不成对的符号 {symbol}", "unpaired symbol {symbol}"),
        unclosed=_markup("<{name}> 没有结束标签", "<{name}> has no closing tag"),
        detached=_markup("拼音或音素标记必须紧挨着一个汉字或字母（它代替的字），不能单独成句",
                         "a pinyin or phoneme tag must stand right next to the character or letter it replaces"),
        too_many=_markup("标记过多：{marks} 个标记，{chars} 个字（每个字最多 {per_char:g} 个标记）",
                         "too many tags: {marks} tags for {chars} characters (at most {per_char:g} per character)")),
    # 400: options
    "invalid_speed": _c(400, *_RANGE),
    "invalid_seed": _c(400, *_RANGE),
    "invalid_prompt_sample_rate": _c(400, *_RANGE),
    "invalid_prompt_channels": _c(400, *_RANGE),
    "invalid_sample_rate": _c(400, *_RANGE),
    "invalid_channels": _c(400, *_RANGE,
                           pcm=("原始 PCM 音频只支持单声道或双声道", "Raw PCM audio must be mono or stereo")),
    "invalid_format": _c(400, *_ONE_OF),
    "invalid_mode": _c(400, *_ONE_OF),
    # 400: voices and recordings
    "prompt_audio_required": _c(400, "需要声音：提供 voice_id，或上传 audio 文件 / prompt_audio_base64",
                                "A voice is needed: a voice_id, or an audio file / prompt_audio_base64"),
    "duplicate_audio": _c(400, "voice_id 与提示音频只能二选一", "Give either a voice_id or prompt audio, not both"),
    "audio_required": _c(400, "需要录音：上传 audio 文件或提供 audio_base64",
                         "A recording is needed: an audio file or audio_base64"),
    "consent_required": _c(400, "克隆声音需要你的声明：这是你本人的声音（consent=self），"
                                "或你已取得声音本人的单独同意（consent=authorized）",
                           "Cloning a voice needs your statement: it is your own voice (consent=self), or the person "
                           "whose voice it is gave you their separate consent (consent=authorized)"),
    "audio_empty": _c(400, "音频为空", "The audio is empty"),
    "audio_corrupt": _c(
        400, "音频文件已损坏或格式与内容不符", "The audio file is corrupt or its content does not match its format",
        pcm_length=("PCM 数据长度与 16 位采样格式不符", "The PCM data's length does not fit 16-bit samples"),
        wav_length=("WAV 头声明的数据长度与文件不符（文件被截断或头部不实）",
                    "The WAV header's data length does not match the file (truncated, or a false header)"),
        parameters=("音频参数无效（采样率或声道数）", "Invalid audio parameters (sample rate or channels)"),
        truncated=("音频文件已损坏或被截断", "The audio file is corrupt or truncated"),
        rate_changed=("音频采样率在文件中途改变", "The sample rate changes within the file"),
        samples=("音频数据无效", "Invalid audio data")),
    "audio_too_short": _c(400, "录音太短（{seconds:.1f} 秒），至少需要 {min_seconds:.0f} 秒",
                          "The recording is too short ({seconds:.1f} s); at least {min_seconds:.0f} s are needed"),
    "audio_too_long": _c(400, "音频过长（上限 {max_seconds:.0f} 秒）",
                         "The audio is too long (at most {max_seconds:.0f} s)"),
    "audio_silent": _c(400, "录音几乎无声，请在安静环境中靠近麦克风重新录制",
                       "The recording is almost silent: record again close to the microphone in a quiet place"),
    "audio_decode_timeout": _c(400, "音频解码超时，请换一段录音",
                               "Decoding the audio took too long: try another recording"),
    "sample_rate_too_low": _c(400, "录音采样率过低（{rate} Hz），至少需要 {min_rate} Hz",
                              "The recording's sample rate is too low ({rate} Hz); at least {min_rate} Hz is needed"),
    "pcm_rate_required": _c(400, "原始 PCM 音频需要声明采样率（prompt_sample_rate）",
                            "Raw PCM audio needs its sample rate declared (prompt_sample_rate)"),
    "no_speech": _c(400, "录音中没有检测到人声（只有噪声或音乐），请在安静环境中朗读",
                    "No speech found in the recording (only noise or music): read aloud in a quiet place"),
    "not_enough_speech": _c(400, "录音中的人声太短（{seconds:.1f} 秒），至少需要 {min_seconds:.0f} 秒",
                            "Too little speech in the recording ({seconds:.1f} s); "
                            "at least {min_seconds:.0f} s are needed"),
    "inference_rejected": _c(400, "语音合成服务拒绝了该请求", "The speech synthesis service refused the request"),
    # 401 / 403
    "unauthorized": _c(401, "需要登录或提供有效的凭证", "Log in or send valid credentials"),
    "wechat_code_invalid": _c(401, "微信登录凭证无效或已过期，请重新登录",
                              "The WeChat login code is invalid or expired: log in again"),
    "wechat_high_risk_user": _c(403, "该微信账号存在风险，暂不能使用",
                                "This WeChat account is flagged as risky and cannot be used"),
    "token_not_allowed": _c(403, "WebSocket 令牌只能用于 WebSocket 连接，不能调用其他接口，也不能用来换取新令牌",
                            "A WebSocket token authenticates only a WebSocket: it cannot call other endpoints or "
                            "mint another token"),
    # 404 / 405
    "not_found": _c(404, "资源不存在", "Not found"),
    "route_not_found": _c(404, "接口不存在", "No such endpoint"),
    "task_not_found": _c(404, "任务不存在或已过期", "No such task, or it has expired"),
    "voice_not_found": _c(404, "声音不存在", "No such voice"),
    "media_not_found": _c(404, "音频不存在", "No such audio"),
    "wechat_login_not_configured": _c(404, "此部署未开启微信登录（WECHAT_APPID、WECHAT_SECRET、JWT_KEYS）",
                                      "WeChat login is not enabled here (WECHAT_APPID, WECHAT_SECRET, JWT_KEYS)"),
    "tokens_not_configured": _c(404, "此部署未配置令牌签发（JWT_KEYS）",
                                "Token issuing is not configured here (JWT_KEYS)"),
    "method_not_allowed": _c(405, "不支持该请求方法", "Method not allowed"),
    # 409: the saved voice's state, not the request
    "too_many_voices": _c(409, "声音数量已达上限，请先删除不用的声音",
                          "Too many voices: delete the ones you no longer use"),
    "voice_transcript_missing": _c(
        409, "这个声音保存时没有录音文字：zero_shot 需要 prompt_text，或改用 cross_lingual",
        "This voice was saved without a transcript: zero_shot needs prompt_text, or use cross_lingual"),
    "voice_consent_missing": _c(
        409, "这个声音保存时没有声明是谁的声音：请重新保存录音，并声明是本人的声音或已取得本人同意",
        "This voice was saved without a consent statement: save the recording again, stating that it is your own "
        "voice or that its speaker consented"),
    # 412 / 413 / 415 / 416 / 426
    "precondition_failed": _c(412, "请求条件不满足", "Precondition failed"),
    "body_timeout": _c(408, "请求体发送超时，请重试", "The request body did not arrive in time: retry"),
    "payload_too_large": _c(413, "请求体过大", "The request body is too large",
                            limit=("请求体过大（上限 {max_mb} MB）",
                                   "The request body is too large (at most {max_mb} MB)")),
    "audio_too_large": _c(413, "音频文件过大（上限 {max_mb} MB）", "The audio file is too large (at most {max_mb} MB)"),
    "unsupported_media": _c(
        415, "不支持的音频格式", "Unsupported audio format",
        unrecognized=("无法识别的音频文件（支持 aac、m4a、mp3、wav，或声明为 pcm 的原始音频）",
                      "Unrecognized audio file (aac, m4a, mp3, wav, or raw audio declared as pcm)"),
        no_audio=("文件中没有音频", "The file has no audio")),
    "unsupported_format": _c(415, "不支持的音频格式：仅支持 {formats}", "Unsupported audio format: only {formats}"),
    "unsupported_codec": _c(415, "不支持的音频编码（{container} 中的 {codec}）",
                            "Unsupported audio codec ({codec} in {container})",
                            unknown=("无法识别的音频编码（{container}）", "Unrecognized audio codec ({container})")),
    "unsupported_content_type": _c(
        415, "请求类型必须是 application/json 或 multipart/form-data",
        "The content type must be application/json or multipart/form-data",
        json_only=("请求类型必须是 application/json", "The content type must be application/json")),
    "range_not_satisfiable": _c(416, "请求的字节范围无效", "The requested range is not satisfiable"),
    "websocket_required": _c(426, "请使用 WebSocket 连接", "Connect with a WebSocket"),
    # 422 / 429
    "content_refused": _c(422, "内容未通过安全审核，请修改后重试",
                          "The content did not pass moderation: change it and retry"),
    "content_under_review": _c(422, "内容未通过安全审核，请修改后重试",
                               "The content did not pass moderation: change it and retry"),
    "rate_limited": _c(429, "请求过于频繁，请稍后再试", "Too many requests: retry later"),
    "daily_quota_exceeded": _c(429, "今日合成字数已用完，请明天再试",
                               "Today's character quota is used up: retry tomorrow"),
    "wechat_rate_limited": _c(429, "登录过于频繁，请稍后再试", "Too many logins: retry later", retry_after=60),
    # 500 / 502
    "internal_error": _c(500, "服务内部错误", "Internal error"),
    "inference_failed": _c(502, "语音合成失败", "Speech synthesis failed",
                           interrupted=("语音合成中断，请重试", "Speech synthesis was interrupted: retry")),
    # 503 (Retry-After) / 504
    "service_unavailable": _c(503, "服务暂时不可用，请稍后重试", "The service is unavailable for now: retry later"),
    "inference_unavailable": _c(503, "语音合成服务暂时不可用，请稍后重试",
                                "Speech synthesis is unavailable for now: retry later"),
    "storage_unavailable": _c(503, "存储服务暂时不可用，请稍后重试", "Storage is unavailable for now: retry later"),
    "state_unavailable": _c(503, "状态服务暂时不可用，请稍后重试",
                            "The state service is unavailable for now: retry later"),
    "queue_unavailable": _c(503, "任务队列暂时不可用，请稍后重试", "The job queue is unavailable for now: retry later"),
    "moderation_unavailable": _c(503, "内容审核服务暂时不可用，请稍后重试",
                                 "Moderation is unavailable for now: retry later"),
    "server_busy": _c(503, "当前合成请求较多，请稍后重试", "The server is busy: retry later"),
    "too_many_connections": _c(503, "连接数已达上限，请稍后重试", "Too many open connections: retry later",
                               server=("服务器连接数已达上限，请稍后重试", "The server holds as many connections as it "
                                                               "can: retry later"),
                               address=("此地址的连接数已达上限，请先关闭不用的连接",
                                        "Too many open connections from this address: close unused ones first"),
                               identity=("此账号的连接数已达上限，请先关闭不用的连接",
                                         "Too many open connections for this account: close unused ones first")),
    "synthesis_in_progress": _c(503, "相同内容正在合成中，请稍后重试",
                                "The same speech is being synthesized: retry shortly",
                                retry_after=2),
    "job_lost": _c(503, "任务已丢失，请重新提交", "The task was lost: submit it again"),
    "wechat_unavailable": _c(503, "微信服务暂时不可用，请稍后重试", "WeChat is unavailable for now: retry later"),
    "wechat_busy": _c(503, "微信服务繁忙，请稍后重试", "WeChat is busy: retry later", retry_after=2),
    "wechat_error": _c(503, "微信登录失败，请稍后重试", "WeChat login failed: retry later"),
    "inference_timeout": _c(504, "语音合成超时，请稍后重试", "Speech synthesis timed out: retry later"),
}


def entry(code: str) -> Code:
    """The catalog's entry; an uncatalogued code is a programming error (KeyError)."""
    try:
        return CODES[code]
    except KeyError:
        raise KeyError(f"error code {code!r} is not in functions/error_codes.py") from None


def status_of(code: str) -> int:
    return entry(code).status


def render(code: str, lang: str = DEFAULT_LANGUAGE, case: str | None = None, **params) -> str:
    """The message of `code` (or of one of its cases) in `lang`, its fields filled from `params` (a missing
    one is a KeyError)."""
    known = entry(code)
    if case is not None and case not in known.cases:
        raise KeyError(f"error code {code!r} has no case {case!r}")
    return known.template(lang, case).format(**params)


def language(accept_language: str | None) -> str:
    """`en` when the caller prefers English (the Accept-Language tag with the highest q starts with `en`),
    else Chinese, the default."""
    best, best_q = "", 0.0
    for part in (accept_language or "")[:500].split(",")[:20]:
        tag, *options = [p.strip() for p in part.split(";")]
        q = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > best_q:
            best, best_q = tag.lower(), q
    return "en" if best.startswith("en") else DEFAULT_LANGUAGE
