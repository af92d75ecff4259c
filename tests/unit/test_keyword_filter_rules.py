"""The local keyword filter's rules in one process, no app: which form of a text meets which listed word, the
verdict's label for each (`keyword` as written, `keyword_sound` as heard), the homophone length rule with and
without pinyin, and how a list file is read."""

from __future__ import annotations

import locale
from types import SimpleNamespace

from functions.moderation import Subject, Verdict
from functions.moderation.keywords import DEFAULT_LIST, KeywordFilter

PASS = Verdict("pass", "keywords")
WRITTEN = Verdict("refuse", "keywords", "keyword")
HEARD = Verdict("refuse", "keywords", "keyword_sound")


def _check(words, text: str) -> Verdict:
    return KeywordFilter(words).check(Subject(text, "", ""))


def test_the_filter_is_local_and_named_keywords():
    assert KeywordFilter.name == "keywords" and KeywordFilter.local is True
    assert _check(["违禁"], "普通的一句话") == PASS


def test_a_word_as_written_is_refused_whatever_its_case_width_or_script():
    assert _check(["违禁"], "这是違禁的") == WRITTEN
    assert _check(["forbidden-test-phrase"], "FORBIDDEN TEST PHRASE") == WRITTEN
    assert _check(["forbidden-test-phrase"], "ｆｏｒｂｉｄｄｅｎ test phrase") == WRITTEN
    assert _check(["forbidden-test-phrase"], "forbid") == PASS


def test_with_pinyin_a_word_of_any_length_is_heard():
    assert _check(["违禁"], "啊[wei2]啊[jin4]") == HEARD
    assert _check(["禁"], "啊[jin4]") == HEARD  # one syllable is enough with pinyin
    assert _check(["违禁词"], "围[jin4]词") == HEARD


def test_without_pinyin_only_words_of_three_syllables_or_more_are_heard():
    assert _check(["违禁词"], "围进词") == HEARD
    assert _check(["违禁"], "我买了一条围巾") == PASS  # an everyday two-syllable homophone
    assert _check(["禁"], "今天") == PASS
    assert _check(["违禁词"], "围进") == PASS  # part of a word is not the word


def test_a_long_latin_word_is_heard_through_digits_and_respellings():
    assert _check(["forbidden-test-phrase"], "4bidden test fraze") == HEARD


def test_an_empty_list_passes_everything():
    empty = KeywordFilter([])
    assert empty.size == 0 and empty.automaton is None and empty.syllables is None and empty.sounds is None
    assert empty.check(Subject("违禁 forbidden-test-phrase", "", "")) == PASS
    assert KeywordFilter(["", "  ", "!!"]).automaton is None  # nothing is left of them once folded


def test_the_size_counts_distinct_words_once_folded():
    assert KeywordFilter(["ab", "AB", "ａｂ", "", "违禁", "違禁"]).size == 2


def test_a_list_file_skips_comments_and_blank_lines(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("# 违禁\n\n  \n  词语甲  \nforbidden-test-phrase\n", encoding="utf-8")
    listed = KeywordFilter.from_file(path)
    assert listed.size == 2
    assert listed.check(Subject("这是违禁的", "", "")) == PASS  # a comment is no word
    assert listed.check(Subject("说词语甲", "", "")) == WRITTEN  # surrounding spaces stripped
    assert KeywordFilter.from_file(str(path)).size == 2


def test_settings_choose_the_list_or_the_bundled_example(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("词语乙\n", encoding="utf-8")
    chosen = KeywordFilter.from_settings(SimpleNamespace(keyword_file=str(path)))
    assert chosen.size == 1 and chosen.check(Subject("词语乙", "", "")) == WRITTEN
    bundled = KeywordFilter.from_settings(SimpleNamespace(keyword_file=""))
    assert bundled.size == KeywordFilter.from_file(DEFAULT_LIST).size > 0
    assert bundled.check(Subject("违禁测试词", "", "")) == WRITTEN


def test_a_list_file_is_read_as_utf8_whatever_the_locale(tmp_path):
    """A server in the plain C locale (ASCII, no UTF-8 mode) still reads the list's Chinese words."""
    path = tmp_path / "words.txt"
    path.write_text("词语丙\n", encoding="utf-8")
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")  # what `open` without an encoding then reads with (outside UTF-8 mode)
    try:
        listed = KeywordFilter.from_file(path)
    finally:
        locale.setlocale(locale.LC_CTYPE, before)
    assert listed.size == 1 and listed.check(Subject("词语丙", "", "")) == WRITTEN


def test_an_indented_comment_is_a_comment_not_a_blocked_word(tmp_path):
    listing = tmp_path / "keywords.txt"
    listing.write_text("  # 说明\n违禁测试词\n", encoding="utf-8")
    kept = KeywordFilter.from_file(listing)
    assert kept.size == 1 and kept.check(Subject("请看说明书", "", "")).outcome != "refuse"
