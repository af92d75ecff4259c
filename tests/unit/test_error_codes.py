"""One table per fact: every error code the service emits is in functions/error_codes.py with its one status and
its messages (Chinese and English); raise sites name codes only; the OpenAPI description, docs/api.md's error
table and the mini program's message table list the same codes; Accept-Language picks the message's language."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import string
from pathlib import Path

import pytest
import yaml
from werkzeug.test import Client

from functions import error_codes
from functions.error_codes import CODES, language, render
from functions.error_map import CODES as MAPPED, default_error_map
from functions.errors import ApiError, BadRequest, NotFound
from functions.tts.replies import TaskFailed
from functions.tts.tasks import TaskError
from tests.support import LocalClient

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# Raise sites another change is converting right now: their Chinese literals (the older form
# `BadRequest(message, code=...)`, which still works) are allowed here until then, and only here.
PENDING: set[str] = set()
# Helpers that raise for a fixed code: their first argument is a case (a code's own message variant).
CASE_HELPERS = {"_refuse": "invalid_markup", "_malformed": "invalid_request"}
# Codes named after a request field: the shapes the source builds, and the fields it builds them from.
FIELD_SHAPES = {"{field}_required", "{field}_too_long", "{field}_invalid_chars", "invalid_{field}"}
# What a mini program never receives: the endpoint or the request that gives the code is not one it uses.
NOT_FOR_MINI_PROGRAM = {"model_required": "only POST /v1/audio/speech",
                        "precondition_failed": "only conditional requests for /media files"}


def _sources() -> dict[str, ast.Module]:
    return {str(p.relative_to(ROOT)): ast.parse(p.read_text(encoding="utf-8")) for p in FUNCTIONS.rglob("*.py")}


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _error_classes(trees) -> dict[str, str]:
    """ApiError and every class that derives from it, found in the source: name -> the code a bare one gets."""
    classes, grew = {"ApiError": "invalid_request"}, True
    while grew:
        found = {node.name: _default_code(node) or classes.get(_name(node.bases[0]))
                 for tree in trees.values() for node in ast.walk(tree)
                 if isinstance(node, ast.ClassDef) and any(_name(base) in classes for base in node.bases)}
        grew, classes = not set(found) <= set(classes), {**classes, **found}
    return classes


def _default_code(node: ast.ClassDef) -> str | None:
    for statement in node.body:
        if not isinstance(statement, ast.Assign):
            continue
        target, value = statement.targets[0], statement.value
        names = [_name(t) for t in target.elts] if isinstance(target, ast.Tuple) else [_name(target)]
        if "code" in names:
            return _str(value.elts[names.index("code")] if isinstance(value, ast.Tuple) else value)
    return None


def _fstring_shape(node: ast.JoinedStr) -> str:
    return "".join(v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}" for v in node.values)


def _str(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def raise_sites(trees) -> list[tuple[str, int, object, str | None]]:
    """(file, line, code, case) of every error constructed in the source: code a string, or an f-string's shape."""
    classes, sites = _error_classes(trees), []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name, args = _name(node.func), node.args
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            if name in CASE_HELPERS and args and _str(args[0]):
                sites.append((path, node.lineno, CASE_HELPERS[name], _str(args[0])))
            elif name in set(classes) | {"_err"}:
                first = kw.get("code", args[0] if args else None)
                code = _fstring_shape(first) if isinstance(first, ast.JoinedStr) else _str(first) if first else \
                    classes.get(name)
                case = _str(kw.get("case", args[1] if name == "_err" and len(args) > 1 else None))
                sites.append((path, node.lineno, code, case))
    return sites


def field_codes(trees) -> set[str]:
    """The codes the field families make, from the fields the source passes to the normalizers and validators."""
    codes = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name, kw = _name(node.func), {k.arg: k.value for k in node.keywords if k.arg}
            if name in ("normalize_text", "normalize_spoken_text"):
                field = _str(kw.get("field")) or "text"
                codes |= {f"{field}_too_long", f"{field}_invalid_chars"}
                optional = name == "normalize_text" and isinstance(kw.get("required"), ast.Constant) and \
                    kw["required"].value is False
                codes |= set() if optional else {f"{field}_required"}
            elif name in ("number", "choice") and len(node.args) >= 2 and _str(node.args[1]):
                codes.add(f"invalid_{_str(node.args[1])}")
    return codes


@pytest.fixture(scope="module")
def trees():
    return _sources()


def test_every_raise_site_names_a_catalogued_code_and_case(trees):
    sites = raise_sites(trees)
    assert len(sites) > 80
    wrong = [(path, line, code, case) for path, line, code, case in sites if code is not None and "{" not in code
             and (code not in CODES or (case and case not in CODES[code].cases))]
    assert not wrong, wrong
    shapes = {code for _, _, code, _ in sites if code and "{" in code}
    assert {re.sub(r"\{[^}]*\}", "{field}", s) for s in shapes} <= FIELD_SHAPES, shapes


def test_every_code_of_a_field_family_is_catalogued(trees):
    made = field_codes(trees)
    assert {"text_required", "instruct_too_long", "name_invalid_chars", "invalid_speed", "invalid_format"} <= made
    assert not made - set(CODES), sorted(made - set(CODES))


def test_the_error_map_and_the_classes_name_catalogued_codes_with_their_status():
    for kind, code in MAPPED.items():
        code, case = (code, None) if isinstance(code, str) else code
        assert code in CODES and (case is None or case in CODES[code].cases), kind
    stack = [ApiError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        assert cls.code in CODES and cls.status in (None, CODES[cls.code].status), cls


def written_messages(trees) -> list[tuple[str, int, str]]:
    """Chinese text at raise sites: in a raise statement, an error's construction, or an error class's body."""
    classes = set(_error_classes(trees)) | set(CASE_HELPERS) | {"_err", "failed"}
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) or isinstance(node, ast.Call) and _name(node.func) in classes:
                found += [(path, c.lineno, c.value) for c in ast.walk(node)
                          if isinstance(c, ast.Constant) and isinstance(c.value, str) and CJK.search(c.value)]
            elif isinstance(node, ast.ClassDef) and node.name in classes:
                found += [(path, a.lineno, "class message") for a in node.body if isinstance(a, ast.Assign)
                          and any("message" in ast.unparse(t) for t in a.targets)]
    return sorted(set(found))


def test_no_chinese_message_is_written_at_a_raise_site(trees):
    found = written_messages(trees)
    assert {path for path, _, _ in found} <= PENDING, [f for f in found if f[0] not in PENDING]


def test_the_scans_see_a_planted_raise_site(trees):
    planted = {**trees, "functions/x.py": ast.parse('raise BadRequest(f"{field} 错了", code="no_such_code")\n'
                                                    'class Oops(BadRequest):\n    message = "错"\n')}
    assert [line for path, line, _ in written_messages(planted) if path == "functions/x.py"] == [1, 3]
    assert ("functions/x.py", 1, "no_such_code", None) in raise_sites(planted)


def test_the_catalog_is_well_formed():
    assert len(CODES) > 80
    for code, known in CODES.items():
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", code) and 400 <= known.status < 600, code
        for zh, en in [(known.zh, known.en), *known.cases.values()]:
            fields = [{f for _, f, _, _ in string.Formatter().parse(t) if f} for t in (zh, en)]
            assert CJK.search(zh) and not CJK.search(en) and fields[0] == fields[1], (code, zh, en)
        assert known.retry_after is None or known.status in (429, 503), code


def _documented(path: Path = ROOT / "docs" / "api.md") -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    table = text[text.index("| status | codes |"):]
    rows = table[:table.index("\n\n")].splitlines()[2:]
    return [(int(row.split("|")[1].split()[0]), code) for row in rows
            for code in re.findall(r"`([a-z0-9_]+)`", row.split("|")[2])]


def check_docs(codes) -> None:
    documented = _documented()
    assert len(documented) == len({code for _, code in documented}), "a code in two rows of docs/api.md"
    assert {code: status for status, code in documented} == {code: c.status for code, c in codes.items()}


def check_openapi(codes) -> None:
    spec = yaml.safe_load((FUNCTIONS / "openapi.yaml").read_text(encoding="utf-8"))
    enum = spec["components"]["schemas"]["ErrorCode"]["enum"]
    assert len(enum) == len(set(enum)) and set(enum) == set(codes)


def check_mini_program(codes) -> None:
    source = (ROOT / "examples" / "miniprogram" / "lib" / "errors.js").read_text(encoding="utf-8")
    messages = set(re.findall(r"^  ([a-z0-9_]+): '", source, flags=re.M))
    assert set(NOT_FOR_MINI_PROGRAM) <= set(codes)
    missing = set(codes) - set(NOT_FOR_MINI_PROGRAM) - messages
    assert not missing, sorted(missing)


def test_docs_list_every_code_once_with_its_status():
    check_docs(CODES)


def test_the_openapi_enum_is_the_catalog():
    check_openapi(CODES)


def test_the_mini_program_has_a_message_for_every_code_it_can_receive():
    check_mini_program(CODES)


@pytest.mark.parametrize("plant", ["status", "new code", "dropped code"])
def test_a_planted_mismatch_fails(monkeypatch, plant):
    codes = dict(CODES)
    if plant == "status":
        codes["voice_not_found"] = dataclasses.replace(CODES["voice_not_found"], status=410)
        monkeypatch.setitem(CODES, "voice_not_found", codes["voice_not_found"])
        with pytest.raises(ValueError):
            NotFound("voice_not_found")  # the class's status is no longer the catalog's
    elif plant == "new code":
        codes["brand_new_code"] = error_codes.Code(400, "新的", "new")
    else:
        del codes["job_lost"]
        monkeypatch.delitem(CODES, "job_lost")
        with pytest.raises(KeyError):
            ApiError("job_lost")
    failing = {"status": [check_docs], "new code": [check_docs, check_openapi, check_mini_program],
               "dropped code": [check_docs, check_openapi]}[plant]
    for check in failing:
        with pytest.raises(AssertionError):
            check(codes)


def test_an_uncatalogued_code_case_or_parameter_raises_at_construction():
    with pytest.raises(KeyError):
        ApiError("no_such_code")
    with pytest.raises(KeyError):
        BadRequest("audio_corrupt", case="no_such_case")
    with pytest.raises(KeyError):
        BadRequest("text_too_long", field="text")  # the message needs length and max_chars
    with pytest.raises(TypeError):
        ApiError("rate_limited", status=418)


def test_inference_failed_has_one_status_everywhere():
    assert CODES["inference_failed"].status == 502
    errors = default_error_map()
    for recorded in (TaskError("inference_failed", "语音合成失败", 503), None):
        error = errors(TaskFailed(recorded))
        assert (error.code, error.status, error.message) == ("inference_failed", 502, "语音合成失败")
    assert errors(TaskFailed(TaskError("job_lost", "任务已丢失，请重新提交"))).status == 503


def test_messages_render_in_both_languages():
    assert render("text_too_long", field="text", length=3, max_chars=2) == "text 过长：3 字，上限 2 字"
    assert render("text_too_long", "en", field="text", length=3, max_chars=2) == \
        "text is too long: 3 characters, at most 2"
    error = BadRequest("invalid_markup", case="unpaired", symbol="[")
    assert error.message == "文本标记格式错误：不成对的符号 ["
    assert error.text("en") == "Malformed text markup: unpaired symbol ["
    with pytest.raises(TypeError):  # a message written at a raise site: messages live in the catalog only
        BadRequest("voice_id 必须是字符串", code="invalid_type")


@pytest.mark.parametrize("header, lang", [
    (None, "zh"), ("", "zh"), ("en", "en"), ("en-US,en;q=0.9", "en"), ("EN-gb", "en"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("fr;q=0.1, en;q=0.5", "en"), ("de", "zh"), ("en;q=0, zh", "zh"),
    ("en;q=x", "zh"),
])
def test_accept_language_picks_the_language(header, lang):
    assert language(header) == lang


def test_the_api_answers_in_the_language_the_request_prefers(unit_app):
    app = unit_app()
    local = LocalClient(app)
    body = json.dumps({"text": 5})
    zh = local.post("/v1/tts", data=body, content_type="application/json")
    en = local.post("/v1/tts", data=body, content_type="application/json", headers={"Accept-Language": "en-US"})
    assert zh.status_code == en.status_code == 400
    assert zh.json["error"]["code"] == en.json["error"]["code"] == "invalid_type"
    assert zh.json["error"]["message"] == "text 必须是字符串" and en.json["error"]["message"] == "text must be a string"
    assert set(en.json["error"]) == {"code", "message", "request_id"}
    remote = Client(app).get("/v1/voices", headers={"Accept-Language": "en"},
                             environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 401 and remote.json["error"]["message"] == "Log in or send valid credentials"


def test_stream_error_frames_take_a_language():
    from functions.api.frames import error_fields
    from functions.endpoint.triton import InferenceFailed

    errors = default_error_map()
    assert error_fields(errors, InferenceFailed("x"))["message"] == "语音合成失败"
    assert error_fields(errors, InferenceFailed("x"), "en") == {
        "code": "inference_failed", "message": "Speech synthesis failed", "status": 502, "retry_after": None}
