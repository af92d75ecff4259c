"""Spellings a listener hears as a listed word: digits and `@ $` inside words read as the letters they stand in
for (`f0rbidden`, `b4dword`, `badw0rd`), and Latin words that spell pinyin read as the syllables they spell
(`wei jin ce shi ci`). Ordinary text with digits (prices, dates, counts, product names) still passes."""

from __future__ import annotations

import json

import pytest

from functions.moderation import Subject, Verdict
from functions.moderation.keywords import DEFAULT_LIST, KeywordFilter
from functions.moderation.spoken import digit_spellings, latin_syllables
from functions.text.markup import parse_markup
from tests.support import LocalClient

WRITTEN = Verdict("refuse", "keywords", "keyword")
HEARD = Verdict("refuse", "keywords", "keyword_sound")
PASS = Verdict("pass", "keywords")
LISTED = KeywordFilter.from_file(DEFAULT_LIST)  # 违禁测试词, forbidden-test-phrase
TEST_LIST = KeywordFilter(["坏词", "BadWord"])  # the list tests/functions/pipeline/test_moderation.py uses


def check(words: KeywordFilter, text: str) -> Verdict:
    return words.check(Subject(text, "", ""))


@pytest.mark.parametrize("text", ["f0rbidden test phrase", "F0RB1DD3N T3ST PHR4S3", "forbidden-t3st-phra$e",
                                  "f-0-rbidden test phrase", "ｆ０ｒｂｉｄｄｅｎ test phrase"])
def test_digits_for_letters_spell_the_listed_phrase(text):
    assert check(LISTED, text) == WRITTEN, text


@pytest.mark.parametrize("text", ["b4dword", "badw0rd", "b@dw0rd", "BADW0RD", "a b4d-w0rd here", "8adword"])
def test_digits_for_letters_spell_a_listed_word(text):
    assert check(TEST_LIST, text) == WRITTEN, text


def test_a_spelled_phrase_is_also_heard_by_its_sound():
    assert check(LISTED, "f0rbidden test fraze") == HEARD


@pytest.mark.parametrize("text", ["wei jin ce shi ci", "weijinceshici", "Wei Jin Ce Shi Ci!", "wéi jìn cè shì cí",
                                  "wei2 jin4 ce4 shi4 ci2", "说 wei jin ce shi ci 吧", "违jin测试词",
                                  "wei[jin4]ce shi ci"])
def test_latin_pinyin_is_heard_as_the_listed_chinese_word(text):
    assert check(LISTED, text) == HEARD, text


def test_two_latin_syllables_without_tones_are_an_everyday_word():
    """`wei jin` is also 围巾 (a scarf): like a two-character homophone, only pinyin markup makes it the word."""
    short = KeywordFilter(["违禁"])
    assert check(short, "wei jin") == PASS
    assert check(short, "wo mai le yi tiao wei jin") == PASS
    assert check(short, "啊[wei2] jin") == HEARD  # with pinyin markup, any length


@pytest.mark.parametrize("text", [
    "I bought 4 apples for $5 on 2026-05-01.", "我买了4个苹果，花了5元。", "5G 手机和 4K 电视", "COVID-19 疫苗",
    "把 mp3 文件转成 wav", "iPhone 15 Pro", "Windows 10 和 Win11", "第1名，第2名", "H2O 是水", "B2B 和 O2O",
    "room 101, floor 3", "call 110 or 120", "3D 打印", "MP4 and 1080p", "The weather is fine today.",
    "she can change the banana", "我们今天测试一下这个词语。", "我买了一条围巾。", "wei 你好", "ce shi 一下",
])
def test_ordinary_text_with_digits_or_latin_words_passes(text):
    for words in (LISTED, TEST_LIST, KeywordFilter(["违禁"])):
        assert check(words, text) == PASS, (text, words.size)


def test_the_spelled_forms():
    assert digit_spellings("f0rbidden") == ["forbiden"]
    assert digit_spellings("b4dword") == ["badword", "bfordword"]  # 4 is a or "for"
    assert digit_spellings("1337") == [] and digit_spellings("4 apples") == [] and digit_spellings("$5") == []
    assert digit_spellings("l1ne") == ["line", "lne"]  # 1 is i or l (repeats squeezed, as in every form)
    assert digit_spellings("普通的一句话") == []


def test_the_latin_syllable_forms():
    assert latin_syllables(parse_markup("wei jin ce shi ci", strict=False)) == "|wei|jin|ce|shi|ci|"
    assert latin_syllables(parse_markup("weijin", strict=False)) == "|wei|jin|"
    assert latin_syllables(parse_markup("wei hello jin", strict=False)) == "|wei|#|jin|"  # no pinyin: a break
    assert latin_syllables(parse_markup("hello world", strict=False)) is None
    assert latin_syllables(parse_markup("违禁", strict=False)) is None  # characters alone: the usual forms


def post(client, text, **fields):
    return client.post("/v1/tts", data=json.dumps({"text": text, "voice_id": "default", **fields}),
                       content_type="application/json")


def test_the_service_refuses_the_spellings_before_any_inference(unit_app, endpoint, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("坏词\nBadWord\n违禁测试词\nforbidden-test-phrase\n", encoding="utf-8")
    client = LocalClient(unit_app(keyword_file=str(words)))
    for text in ("f0rbidden test phrase", "this has a b4dword", "badw0rd", "wei jin ce shi ci"):
        r = post(client, text)
        assert r.status_code == 422 and r.json["error"]["code"] == "content_refused", (text, r.json)
    assert post(client, "普通的一句话。", instruct="用 b4dword 的语气").status_code == 422
    assert not endpoint.requests
    assert post(client, "I bought 4 apples for $5, 5G COVID-19 mp3.").status_code == 200
