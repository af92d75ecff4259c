"""The CosyVoice markup rules, each with the exact result or the exact error a caller sees: what a tag becomes in
the model's tokens, how pinyin tones and spellings are normalized, how spans and sound tags are counted, what
lenient parsing keeps as text, and where strict parsing refuses (code and message)."""

from __future__ import annotations

import pytest

from functions.errors import BadRequest
from functions.text.markup import Markup, PinyinRun, model_tokens, parse_markup, toneless, written

PREFIX = "文本标记格式错误："
INITIAL_ALONE = "声母 [h] 后面必须紧跟韵母，如 [h][ào]"
UNKNOWN_BRACKET = "无法识别的方括号标记 [{}]（支持 [h][ào] 或 [hao4] 这样的拼音、英文音素和 [breath] 等音效标签）"
DETACHED = "拼音或音素标记必须紧挨着一个汉字或字母（它代替的字），不能单独成句"


def _refused(text: str) -> tuple[str, str, int]:
    with pytest.raises(BadRequest) as caught:
        parse_markup(text)
    return caught.value.code, caught.value.message, caught.value.status


def _message(text: str) -> str:
    code, message, status = _refused(text)
    assert (code, status) == ("invalid_markup", 400)
    assert message.startswith(PREFIX)
    return message[len(PREFIX):]


# --- toneless and written spellings ---

@pytest.mark.parametrize("tag, expected", [
    ("ào", "ao"), ("hao3", "hao"), ("AH0", "ah"), ("ǎo", "ao"), ("HAO", "hao"), ("好a", "a"),
    ("ü", "v"), ("ǖ", "v"), ("ǘ", "v"), ("ǚ", "v"), ("ǜ", "v"), ("LÜ", "lv"), ("nǚ", "nv"), ("lüè", "lve"),
])
def test_toneless_drops_tones_digits_and_spells_u_umlaut_as_v(tag, expected):
    assert toneless(tag) == expected


@pytest.mark.parametrize("syllable, expected", [
    # finals standing alone take their zero-initial spelling
    ("i", "yi"), ("uei", "wei"), ("iou", "you"), ("uen", "wen"), ("v", "yu"), ("van", "yuan"), ("u", "wu"),
    # after an initial, uei/iou/uen are written ui/iu/un: one case per initial
    ("buen", "bun"), ("puen", "pun"), ("muen", "mun"), ("fuen", "fun"), ("duen", "dun"), ("tuen", "tun"),
    ("nuen", "nun"), ("luen", "lun"), ("guen", "gun"), ("kuen", "kun"), ("huen", "hun"), ("juen", "jun"),
    ("quen", "qun"), ("xuen", "xun"), ("ruen", "run"), ("zuen", "zun"), ("cuen", "cun"), ("suen", "sun"),
    ("yuen", "yun"), ("wuen", "wun"), ("zhuei", "zhui"), ("chuei", "chui"), ("shuen", "shun"), ("guei", "gui"),
    ("liou", "liu"),
    # ü after j, q, x, y is written u; after l and n it stays v
    ("jv", "ju"), ("qv", "qu"), ("xv", "xu"), ("yv", "yu"), ("jvan", "juan"), ("xve", "xue"), ("qvn", "qun"),
    ("lv", "lv"), ("nve", "nve"), ("lve", "lve"),
    # already standard, or no syllable at all: unchanged
    ("hao", "hao"), ("zhang", "zhang"), ("ao", "ao"), ("a", "a"), ("er", "er"), ("zh", "zh"), ("b", "b"),
    ("y", "y"),
])
def test_written_gives_the_standard_spelling(syllable, expected):
    assert written(syllable) == expected


# --- model tokens ---

@pytest.mark.parametrize("tag, expected", [
    # the model's own tokens stay as they are (pinyin lowercased, phonemes as written)
    ("AH0", ["AH0"]), ("B", ["B"]), ("HH", ["HH"]), ("h", ["h"]), ("H", ["h"]), ("zh", ["zh"]), ("ǎo", ["ǎo"]),
    ("Ao", ["ao"]), ("vè", ["vè"]),
    # whole syllables with a tone number become initial + toned final
    ("hao3", ["h", "ǎo"]), ("HAO3", ["h", "ǎo"]), ("hang2", ["h", "áng"]), ("ma1", ["m", "ā"]),
    ("ma2", ["m", "á"]), ("ma3", ["m", "ǎ"]), ("ma4", ["m", "à"]),
    # tone 0 and 5, and no tone number, are the neutral tone
    ("ma0", ["m", "a"]), ("ma5", ["m", "a"]), ("ma", ["m", "a"]), ("hao", ["h", "ao"]),
    # the mark goes on a or e, else on the o of ou, else on the last vowel
    ("mei2", ["m", "éi"]), ("gou3", ["g", "ǒu"]), ("liu2", ["l", "iú"]), ("gui4", ["g", "uì"]),
    ("duo1", ["d", "uō"]), ("xue2", ["x", "ué"]),
    # zero-initial syllables are a final alone
    ("ao3", ["ǎo"]), ("er2", ["ér"]), ("e4", ["è"]),
    # ü: v and ü are the same; jüe is written jue; the tokenizer spells üe as ve
    ("lv4", ["l", "ǜ"]), ("nv3", ["n", "ǚ"]), ("lü4", ["l", "ǜ"]), ("jv3", ["j", "ǚ"]), ("lve4", ["l", "vè"]),
    ("lüe4", ["l", "vè"]), ("jve2", ["j", "ué"]), ("qve2", ["q", "ué"]), ("xve2", ["x", "ué"]),
    ("yve2", ["y", "ué"]), ("jve4", ["j", "uè"]),
])
def test_model_tokens_of_pinyin_and_phonemes(tag, expected):
    assert model_tokens(tag) == expected


@pytest.mark.parametrize("tag", ["xyz", "ah0", "hao6", "ha o3", "", "breath", "lve2", "hh", "Hh0", "3"])
def test_model_tokens_of_anything_else_is_none(tag):
    assert model_tokens(tag) is None


# --- parse results ---

def test_text_without_markup_is_itself():
    assert parse_markup("你好，世界") == Markup("你好，世界", "你好，世界", 0, 0, ())
    assert parse_markup("") == Markup("", "", 0, 0, ())


def test_pinyin_for_a_character_is_one_syllable_at_its_place():
    markup = parse_markup("她[h][ào]干净")
    assert markup == Markup("她[h][ào]干净", "她干净", 0, 0, (PinyinRun(1, ("hao",), ()),))
    assert (markup.syllables, markup.units) == (1, 4)


def test_a_whole_syllable_with_a_tone_becomes_the_models_tokens():
    assert parse_markup("她[hao3]干净") == Markup("她[h][ǎo]干净", "她干净", 0, 0, (PinyinRun(1, ("hao",)),))
    assert parse_markup("[lv4]色") == Markup("[l][ǜ]色", "色", 0, 0, (PinyinRun(0, ("lv",)),))
    assert parse_markup("[jve2]定") == Markup("[j][ué]定", "定", 0, 0, (PinyinRun(0, ("jue",)),))
    assert parse_markup("[g][uì]人") == Markup("[g][uì]人", "人", 0, 0, (PinyinRun(0, ("gui",)),))


def test_consecutive_syllables_form_one_run():
    markup = parse_markup("你好[n][ǐ][h][ǎo]世界")
    assert markup.runs == (PinyinRun(2, ("ni", "hao")),)
    assert (markup.syllables, markup.units) == (2, 6)


def test_a_final_after_a_whole_syllable_is_a_syllable_of_its_own():
    assert parse_markup("你好啊[h][ǎo][ér]").runs == (PinyinRun(3, ("hao", "er")),)
    assert parse_markup("你好啊[ǎo][h][ǎo]").runs == (PinyinRun(3, ("ao", "hao")),)


def test_english_phonemes_are_spoken_as_their_vowels():
    markup = parse_markup("[HH][AH0][L][OW1]hello")
    assert markup == Markup("[HH][AH0][L][OW1]hello", "hello", 0, 0, (PinyinRun(0, (), ("HH", "AH", "L", "OW")),))
    assert (markup.syllables, markup.units) == (2, 7)
    consonants = parse_markup("a[HH][T]")
    assert consonants.runs == (PinyinRun(1, (), ("HH", "T")),)
    assert consonants.syllables == 1
    assert parse_markup("a[AH2]").runs == (PinyinRun(1, (), ("AH",)),)


def test_sound_tags_are_counted_and_kept_verbatim():
    markup = parse_markup("2026年[breath]她[h][ào]")
    assert markup == Markup("2026年[breath]她[h][ào]", "2026年她", 1, 0, (PinyinRun(6, ("hao",)),))
    assert markup.units == 6 + 4 + 1 + 1
    for tag in ("breath", "laughter", "noise", "cough", "clucking", "accent", "quick_breath", "hissing", "sigh",
                "vocalized-noise", "lipsmack", "mn"):
        assert parse_markup(f"好[{tag}]啊") == Markup(f"好[{tag}]啊", "好啊", 1, 0, ())


def test_a_sound_tag_alone_is_allowed_markup():
    assert parse_markup("[breath]") == Markup("[breath]", "", 1, 0, ())


def test_a_sound_tag_ends_a_run():
    markup = parse_markup("你好[h][ǎo][breath][h][ǎo]世界")
    assert markup.runs == (PinyinRun(2, ("hao",)), PinyinRun(2, ("hao",)))
    assert (markup.sound_tags, markup.syllables) == (1, 2)


def test_a_span_tag_ends_a_run():
    markup = parse_markup("你好[h][ǎo]<strong>[h][ǎo]好啊</strong>")
    assert markup == Markup("你好[h][ǎo]<strong>[h][ǎo]好啊</strong>", "你好好啊", 0, 1,
                            (PinyinRun(2, ("hao",)), PinyinRun(2, ("hao",))))


def test_runs_stand_where_they_are_in_the_plain_text():
    assert parse_markup("你好[breath]世界[h][ǎo]").runs == (PinyinRun(4, ("hao",)),)
    assert parse_markup("你好<strong>世界</strong>啊[h][ǎo]").runs == (PinyinRun(5, ("hao",)),)


def test_spans_of_each_supported_tag_are_counted():
    assert parse_markup("<strong>你好</strong>") == Markup("<strong>你好</strong>", "你好", 0, 1, ())
    assert parse_markup("<laughter>哈哈</laughter>") == Markup("<laughter>哈哈</laughter>", "哈哈", 0, 1, ())
    two = parse_markup("<strong>一</strong>和<laughter>二</laughter>[breath]")
    assert two == Markup("<strong>一</strong>和<laughter>二</laughter>[breath]", "一和二", 1, 2, ())


# --- strict refusals: code and message ---

def test_every_refusal_is_invalid_markup_with_its_prefix():
    assert _refused("你[xyz]") == ("invalid_markup", PREFIX + UNKNOWN_BRACKET.format("xyz"), 400)


def test_an_initial_must_be_followed_by_its_final():
    assert _message("好[h]") == INITIAL_ALONE
    assert _message("好[h][h][ào]") == INITIAL_ALONE
    assert _message("[h]好") == INITIAL_ALONE
    assert _message("[zh][h][ǎo]好") == "声母 [zh] 后面必须紧跟韵母，如 [h][ào]"


def test_an_unknown_bracket_tag_is_refused_and_quoted_up_to_20_characters():
    assert _message("你[xyz]") == UNKNOWN_BRACKET.format("xyz")
    assert _message("你[abcdefghijklmnopqrstuvwxyz]") == UNKNOWN_BRACKET.format("abcdefghijklmnopqrst")
    assert _message("你[]") == UNKNOWN_BRACKET.format("")


def test_span_tags_must_pair_up():
    assert _message("好</strong>") == "</strong> 没有对应的开始标签"
    assert _message("<strong>好</laughter>") == "</laughter> 没有对应的开始标签"
    assert _message("<strong>你好") == "<strong> 没有结束标签"
    assert _message("<laughter>你好") == "<laughter> 没有结束标签"
    assert _message("好<strong></strong>") == "<strong> 标签内没有文字"
    assert _message("好<laughter>[breath]</laughter>") == "<laughter> 标签内没有文字"
    assert _message("<strong>好<laughter>啊</laughter></strong>") == "标签不能嵌套"
    assert _message("<strong>好<strong>啊</strong></strong>") == "标签不能嵌套"


def test_unsupported_tags_and_unpaired_symbols_are_refused():
    assert _message("<b>好</b>") == "不支持的标签 <b>"
    assert _message("好</em>") == "不支持的标签 </em>"
    assert _message("<abcdefghijklmnopqrstuvwxyz>好") == "不支持的标签 <abcdefghijklmnopqrst>"
    assert _message("你好[") == "不成对的符号 ["
    assert _message("你好]") == "不成对的符号 ]"
    assert _message("a<b") == "不成对的符号 <"
    assert _message("a>b") == "不成对的符号 >"


def test_pinyin_must_touch_a_letter_or_a_han_character():
    assert parse_markup("好[h][ǎo]").runs == (PinyinRun(1, ("hao",)),)
    assert parse_markup("[h][ǎo]好").runs == (PinyinRun(0, ("hao",)),)
    assert parse_markup("。[h][ǎo]好").runs == (PinyinRun(1, ("hao",)),)
    assert parse_markup("好[h][ǎo]。").runs == (PinyinRun(1, ("hao",)),)
    for text in ("[h][ǎo]", "[h][ǎo]。好", "[h][ǎo]，好", "好，[h][ǎo]", "好。[h][ǎo]！", "[HH][AH0]"):
        assert _message(text) == DETACHED, text


def test_markup_density_is_at_most_one_mark_per_character():
    assert parse_markup("好[breath]").sound_tags == 1
    assert parse_markup("好啊[breath][h][ǎo]").syllables == 1
    assert parse_markup("好<strong>啊</strong>[breath]").spans == 1
    assert _message("好[breath][breath]") == "标记过多：2 个标记，1 个字（每个字最多 1 个标记）"
    assert _message("好  [breath][breath][breath]") == "标记过多：3 个标记，1 个字（每个字最多 1 个标记）"
    assert _message("好[h][ǎo][breath]") == "标记过多：2 个标记，1 个字（每个字最多 1 个标记）"
    assert _message("好<strong>啊</strong>[h][ǎo][breath]") == "标记过多：3 个标记，2 个字（每个字最多 1 个标记）"
    assert _message("[breath][breath]") == "标记过多：2 个标记，0 个字（每个字最多 1 个标记）"


# --- lenient parsing: what is not valid markup stays text ---

def test_lenient_parsing_keeps_invalid_markup_as_text():
    assert parse_markup("好[xyz]啊[breath]", strict=False) == Markup("好[xyz]啊[breath]", "好[xyz]啊", 1, 0, ())
    assert parse_markup("<b>好</b>", strict=False) == Markup("<b>好</b>", "<b>好</b>", 0, 0, ())
    assert parse_markup("a<b]c[", strict=False) == Markup("a<b]c[", "a<b]c[", 0, 0, ())


def test_lenient_parsing_drops_unmatched_span_tags():
    markup = parse_markup("好</strong>啊[breath]", strict=False)
    assert markup == Markup("好</strong>啊[breath]", "好啊", 1, 0, ())
    unclosed = parse_markup("<strong>你好", strict=False)
    assert unclosed == Markup("<strong>你好", "你好", 0, 0, ())
    nested = parse_markup("<strong>好<laughter>啊</laughter></strong>[breath]", strict=False)
    assert nested == Markup("<strong>好<laughter>啊</laughter></strong>[breath]", "好啊", 1, 1, ())
    empty = parse_markup("<strong></strong>好", strict=False)
    assert (empty.plain, empty.spans) == ("好", 1)


def test_lenient_parsing_counts_a_lone_initial_as_a_syllable():
    assert parse_markup("好[h]", strict=False).runs == (PinyinRun(1, ("h",)),)
    assert parse_markup("好[h][h][ào]", strict=False).runs == (PinyinRun(1, ("h", "hao")),)
    assert parse_markup("好[h][sh][HH]", strict=False).runs == (PinyinRun(1, ("h", "sh"), ("HH",)),)


def test_lenient_parsing_skips_attachment_and_density():
    markup = parse_markup("[h][ǎo]。[breath][breath]", strict=False)
    assert markup == Markup("[h][ǎo]。[breath][breath]", "。", 2, 0, (PinyinRun(0, ("hao",)),))
