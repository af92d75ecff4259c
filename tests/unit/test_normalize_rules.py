"""The text normalizer's rules, each with the error a caller sees (its code and its message): what is
required, what is too long, which characters are refused or removed, and how whitespace and newlines end up."""

from __future__ import annotations

import pytest

from functions.errors import BadRequest
from functions.text.normalize import normalize_spoken_text, normalize_text


def _refused(call, *args, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(BadRequest) as caught:
        call(*args, **kwargs)
    return caught.value.code, caught.value.message, caught.value.status


def test_a_missing_text_is_required_unless_optional():
    for value in (None, ""):
        assert _refused(normalize_text, value) == ("text_required", "缺少 text", 400)
        assert _refused(normalize_text, value, field="instruct") == ("instruct_required", "缺少 instruct", 400)
        assert _refused(normalize_spoken_text, value) == ("text_required", "缺少 text", 400)
        assert normalize_text(value, required=False) == ""


def test_only_strings_are_text():
    assert _refused(normalize_text, 5) == ("invalid_type", "text 必须是字符串", 400)
    assert _refused(normalize_text, ["a"], field="instruct", required=False) == (
        "invalid_type", "instruct 必须是字符串", 400)


def test_the_limit_counts_characters_as_sent_200_by_default():
    assert normalize_text("字" * 200) == "字" * 200
    assert _refused(normalize_text, "字" * 201) == ("text_too_long", "text 过长：201 字，上限 200 字", 400)
    assert normalize_spoken_text("字" * 200)[0] == "字" * 200
    assert _refused(normalize_spoken_text, "字" * 201)[0] == "text_too_long"
    assert normalize_text("ab", max_chars=2) == "ab"
    assert _refused(normalize_text, "abc", field="instruct", max_chars=2) == (
        "instruct_too_long", "instruct 过长：3 字，上限 2 字", 400)
    # counted before anything is removed: spaces and zero-width characters count too
    assert _refused(normalize_text, "a" + " " * 5 + "\u200b" * 5, max_chars=10)[0] == "text_too_long"


@pytest.mark.parametrize("ch", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\ud800", "\ue000", "\U000f0000",
                                "\u202a", "\u202e", "\u2066", "\u2069"])
def test_control_surrogate_private_and_bidi_characters_are_refused(ch):
    assert _refused(normalize_text, f"a{ch}b") == ("text_invalid_chars", "text 含有不允许的控制字符", 400)
    assert _refused(normalize_text, f"a{ch}b", field="instruct")[0] == "instruct_invalid_chars"


def test_tabs_and_line_breaks_are_whitespace_not_control_characters():
    assert normalize_text("a\tb\r\nc\rd") == "a b c d"
    for text in ("a\tb\x00", "a\nb\u202e", "\r\ud800"):  # and the characters after them are still checked
        assert _refused(normalize_text, text)[0] == "text_invalid_chars"


@pytest.mark.parametrize("ch", ["\u00ad", "\u034f", "\u061c", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u180b",
                                "\u180f", "\u200b", "\u200f", "\u2060", "\u206f", "\u3164", "\ufe00", "\ufe0f",
                                "\ufeff", "\uffa0", "\ufff0", "\ufff8", "\U0001bca0", "\U0001bca3", "\U0001d173",
                                "\U0001d17a", "\U000e0000", "\U000e0fff"])
def test_default_ignorable_characters_are_removed(ch):
    assert normalize_text(f"a{ch}b") == "ab"


def test_characters_next_to_the_ignorable_ranges_stay():
    for ch in ("\u180a", "\u2010", "\u205e", "\ufe10", "\U000e1000"):
        assert ch in normalize_text(f"a{ch}b")


def test_text_is_nfc():
    assert normalize_text("e\u0301") == "\u00e9"
    assert normalize_text("\u1100\u1161") == "\uac00"


@pytest.mark.parametrize("text", ["a<|b", "a|>b", "<|endoftext|>", "<\u200b|x", "x|\u200b>"])
def test_model_control_marks_are_refused_even_when_split_by_invisible_characters(text):
    assert _refused(normalize_text, text) == ("text_invalid_chars", "text 不能包含模型控制标记 <| |>", 400)
    assert _refused(normalize_text, text, field="instruct")[0] == "instruct_invalid_chars"


def test_model_control_marks_are_refused_in_spoken_text():
    assert _refused(normalize_spoken_text, "你好<|x")[0] == "text_invalid_chars"


def test_whitespace_collapses_and_newlines_survive_only_when_kept():
    text = "  a \u3000 b\n\n \t\n c  d \n"
    assert normalize_text(text) == "a b c d"
    assert normalize_text(text, keep_newlines=True) == "a b\nc d"
    assert normalize_text("a\r\nb", keep_newlines=True) == "a\nb"
    assert normalize_spoken_text(text)[0] == "a b c d"
    assert normalize_spoken_text(text, keep_newlines=True)[0] == "a b\nc d"


def test_a_text_of_nothing_but_whitespace_or_invisible_characters_is_empty():
    for text in ("   ", "\u200b\u200b", " \n \n "):
        assert _refused(normalize_text, text) == ("text_required", "text 不能为空", 400)
        assert _refused(normalize_text, text, keep_newlines=True)[:2] == ("text_required", "text 不能为空")
        assert _refused(normalize_text, text, field="instruct")[:2] == ("instruct_required", "instruct 不能为空")
        assert normalize_text(text, required=False) == ""
        assert normalize_text(text, required=False, keep_newlines=True) == ""


def test_spoken_text_is_its_markup_in_the_models_tokens():
    text, markup = normalize_spoken_text("她[hao3]干净")
    assert text == "她[h][ǎo]干净" == markup.text
    assert normalize_spoken_text("  你好 ")[0] == "你好"


def test_spoken_text_of_markup_alone_is_refused():
    assert _refused(normalize_spoken_text, "[breath]") == ("text_required", "text 不能只有标记", 400)
    assert _refused(normalize_spoken_text, "[breath]", field="prompt_text") == (
        "prompt_text_required", "prompt_text 不能只有标记", 400)
    assert _refused(normalize_spoken_text, " ", field="prompt_text")[:2] == (
        "prompt_text_required", "prompt_text 不能为空")
