"""The text as it will be spoken, the forms moderation matches keywords against: each rule with the exact
form it yields (markup removed, invisible characters and broken characters dropped, letters squeezed, syllables
with and without pinyin, and the consonant skeleton of letters, digits and phoneme markup)."""

from __future__ import annotations

from functions.moderation.spoken import (
    MAX_READINGS,
    MIN_SOUND_KEY,
    fold,
    sound_key,
    spoken_sound_key,
    spoken_syllables,
    word_sound_key,
    word_syllables,
)
from functions.text.markup import parse_markup


def _lenient(text: str):
    return parse_markup(text, strict=False)


# fold: the comparison form


def test_invisible_characters_are_removed_not_replaced():
    assert fold("违\u00ad禁") == "违禁"
    assert fold("a\u200bb") == "ab"


def test_a_lone_surrogate_does_not_break_folding():
    assert fold("违\ud800禁") == "违禁"


def test_square_bracket_markup_is_removed():
    assert fold("违[breath]禁") == "违禁"


def test_angle_bracket_markup_is_removed_on_its_own():
    assert fold("违<strong>禁</strong>") == "违禁"


def test_malformed_markup_is_read_leniently_as_text():
    assert fold("t[un]closed<") == "tclosed"
    assert fold("[h]a") == "a"


def test_repeated_latin_letters_are_squeezed_to_one():
    assert fold("Heeello  wörld") == "heloworld"


# syllables of listed words


def test_a_listed_word_with_an_invisible_character_still_has_its_syllables():
    assert word_syllables("违\u200b禁") == ["|wei|jin|"]


def test_a_listed_word_mixing_han_and_letters_has_no_syllable_form():
    assert word_syllables("违禁x") == []
    assert word_syllables("abc") == []


def test_the_spellings_of_a_polyphonic_word_are_bounded():
    spellings = word_syllables("着着着")  # three readings each: 27 spellings
    assert MAX_READINGS == 16
    assert len(spellings) == MAX_READINGS
    assert spellings[0] == "|zhe|zhe|zhe|"
    assert spellings[-1] == "|zhao|zhuo|zhe|"


# syllables of a text as spoken


def test_text_without_pinyin_is_heard_by_its_characters():
    assert spoken_syllables(_lenient("违\u200b禁词")) == ["|wei|jin|ci|"]


def test_pinyin_stands_in_for_or_overrides_the_character_before_it():
    assert spoken_syllables(_lenient("啊[wei2]啊[jin4]")) == [
        "|a|wei|a|jin|", "|wei|jin|", "|a|wei|a|jin|", "|wei|jin|"]


def test_only_the_one_character_before_the_pinyin_is_overridden():
    assert spoken_syllables(_lenient("啊啊[wei2]")) == ["|a|a|wei|", "|a|wei|", "|a|a|wei|", "|a|wei|"]


def test_pinyin_after_a_letter_overrides_nothing():
    assert spoken_syllables(_lenient("啊x[wei2]")) == ["|a|wei|"] * 4


def test_pinyin_at_the_start_overrides_nothing():
    assert spoken_syllables(_lenient("[wei2]啊")) == ["|wei|a|"] * 4


def test_consonant_only_tags_are_also_dropped():
    assert spoken_syllables(_lenient("[h][wei2]违")) == [
        "|h|wei|wei|", "|h|wei|wei|", "|wei|wei|", "|wei|wei|"]
    assert spoken_syllables(_lenient("啊[h]")) == ["|a|h|", "|h|", "|a|", "||"]


# sound keys


def test_the_sound_key_keeps_only_ascii_letters_and_digits():
    assert sound_key("f r") == "fr"
    assert sound_key("é违b") == "b"


def test_the_sound_key_drops_vowels_and_squeezes_repeats():
    assert sound_key("ffaa") == "f"
    assert sound_key("bat") == "bt"
    assert sound_key("4bidden test fraze") == "frbdntstfrs"


def test_a_listed_word_matches_by_sound_from_six_consonant_sounds():
    assert MIN_SOUND_KEY == 6
    assert word_sound_key("forbiddens") == "frbdns"  # exactly six
    assert word_sound_key("forbidden") is None  # five
    assert word_sound_key("test") is None


def test_phoneme_markup_is_heard_as_its_consonants():
    markup = _lenient("[F][ER0][B][IH1][D][AH0][N] test phrase")
    assert spoken_sound_key(markup, fold(markup.plain)) == "frbdntstfrs"


def test_phonemes_sit_between_the_text_before_and_after_them():
    markup = _lenient("ba[F]t")
    assert spoken_sound_key(markup, fold(markup.plain)) == "bft"
    markup = _lenient("a[F][ER0]b")
    assert spoken_sound_key(markup, fold(markup.plain)) == "frb"


def test_repeats_across_text_and_phonemes_are_squeezed():
    markup = _lenient("ab[F][F]")
    assert spoken_sound_key(markup, fold(markup.plain)) == "bf"
    markup = _lenient("tt[T]tt")
    assert spoken_sound_key(markup, fold(markup.plain)) == "t"


def test_text_without_phonemes_has_the_plain_sound_key():
    markup = _lenient("4bidden test fraze")
    assert spoken_sound_key(markup, fold(markup.plain)) == "frbdntstfrs"
