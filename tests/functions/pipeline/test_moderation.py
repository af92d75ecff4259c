"""Content safety: each provider passes, refuses and fails in the configured way; refusals never echo the
offending words; the keyword automaton handles large lists."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest

from functions.error_map import default_error_map
from functions.moderation import ModerationChain, Subject, Verdict
from functions.moderation.keywords import KeywordFilter
from functions.moderation.tencent_tms import TencentTextModeration
from functions.moderation.wechat import WeChatMsgSecCheck
from functions.settings import Settings

from ...audio_samples import PROMPT_TEXT, recorder_files
from tests.support import client_for
from ...fakes.tencent_cloud import FakeTencentAsr, FakeTencentTms
from ...fakes.wechat import FakeWeChat


def post(client, text, **extra):
    audio = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
    return client.post("/v1/tts", data=json.dumps({"text": text,
                                                   "consent": "self", "prompt_audio_base64": audio, **extra}),
                       content_type="application/json", headers=extra.pop("headers", None) or {})

RECORDING = recorder_files()["wav_16k_mono"][0]
WX_HEADERS = {"X-WX-OPENID": "oUser123456", "X-WX-APPID": "wxappid123", "X-Api-Key": ""}


def test_keyword_list_refuses_without_echoing(make_app, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("# comment\n坏词\nBadWord\n", encoding="utf-8")
    app = make_app(keyword_file=str(words))
    client = client_for(app)
    r = post(client, "这里有一个坏 词。")  # spacing inserted between characters
    assert r.status_code == 422 and r.json["error"]["code"] == "content_refused"
    assert "坏" not in r.get_data(as_text=True)
    assert post(client, "this has a ＢＡＤＷＯＲＤ in full width").status_code == 422
    assert post(client, "普通的一句话。", instruct="说坏词").status_code == 422  # instruct is checked too
    assert post(client, "普通的一句话。").status_code == 200


@pytest.mark.parametrize("text", [
    "违[breath]禁测试词", "违禁[mn]测试词", "违<strong>禁</strong>测试词",  # markup inside the word
    "違禁測試詞", "这是违禁測試詞吗",  # traditional (or half-traditional) characters
    "f\u043erbidden-t\u0435st-phrase", "FORBIDDEN test phrase",  # look-alike letters, case
    "ｆｏｒｂｉｄｄｅｎ　ｔｅｓｔ　ｐｈｒａｓｅ",  # full width
    "\u0192\u03bfrbidden test phrase",  # Latin f-hook and Greek omicron
    "啊[wei2]啊[jin4]啊[ce4]啊[shi4]啊[ci2]",  # spelled in pinyin
    "我们今天说[w][éi][j][ìn][c][è][sh][ì][c][í]了吗，好不好呀",
    "为[j][ìn]测试词",  # pinyin standing in for one character of the word
    "违\u3164禁测试词", "forbidden\u3164test phrase", "f\u00adorbidden te\u2060st phrase",  # invisible letters
    "违[j]\u2060[ìn]测试词",  # an invisible character between an initial and its final
    "for[B][IH1][D][AH0][N] test phrase", "4bidden test phrase", "forbidden test fraze",  # English by sound
    "围进策是词",  # homophones of a long listed word, no markup at all
    "forbidd\u1d07n test phrase",  # small capitals
    "\ua730\u1d0f\u0280\u0299\u026a\u1d05\u1d05\u1d07\u0274 test phrase",
    "te\u00dft forbidden te\u00dft phra\u00dfe",  # sharp s
    "违\uff3bbreath\uff3d禁测试词",  # markup typed with full-width brackets
])
def test_each_former_bypass_is_refused(make_app, text):
    """Moderation judges what will be spoken, however it was typed (the default list has 违禁测试词 and
    forbidden-test-phrase)."""
    client = client_for(make_app())
    r = post(client, text)
    assert r.status_code == 422 and r.json["error"]["code"] == "content_refused", (text, r.json)


@pytest.mark.parametrize("text", [
    "违禁测[sh][shi4]词", "啊啊啊啊啊啊[h][wei2][jin4][ce4][shi4][ci2]",  # an initial glued to a whole syllable
    "违[j]in测试词", "<strong>违[j]</strong>[ìn]测试词",  # an initial without its final
    "啊[uei2]啊[jin4]啊[ce4]啊[shi4]啊[ci2]", "forbidden[test]phrase",  # not the model's tokens: read as text
])
def test_markup_the_model_would_not_read_as_markup_is_refused(make_app, text):
    """Only the model's own pinyin and phoneme tokens are markup; anything else in brackets would be read out
    as text, so it is refused before it can hide a word from moderation or a syllable from the quota."""
    r = post(client_for(make_app()), text)
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_markup", (text, r.json)


@pytest.fixture
def two_syllable_word(make_app, tmp_path):
    """An app whose list has one two-character word, 违禁: too short for the homophone matcher (three or more
    syllables without pinyin), so only the folding or the pinyin rule can catch it."""
    words = tmp_path / "short.txt"
    words.write_text("违禁\n", encoding="utf-8")
    return make_app(keyword_file=str(words))


def say(client, text):
    return client.post("/v1/tts", data=json.dumps({"text": text, "voice_id": "default"}),
                       content_type="application/json")


def test_a_short_word_typed_in_traditional_characters_is_refused(two_syllable_word):
    """違禁 is 违禁 once folded to simplified (OpenCC t2s); no syllable rule applies to a two-syllable word
    without pinyin, so the folding alone refuses it."""
    client = client_for(two_syllable_word)
    for text in ("違禁", "这是違禁的内容。", "违禁"):
        r = say(client, text)
        assert r.status_code == 422 and r.json["error"]["code"] == "content_refused", (text, r.json)
    assert KeywordFilter(["违禁"]).check(Subject("這是違禁的", "", "")) == Verdict("refuse", "keywords", "keyword")
    assert say(client, "我买了一条围巾。").status_code == 200  # an everyday homophone without pinyin passes


def test_a_short_word_spelled_in_pinyin_is_refused(two_syllable_word):
    """With pinyin markup in the text, listed words of any length are matched by their syllables (what the
    model will say); without it only words of three or more syllables are, so 围巾 stays an everyday word."""
    client = client_for(two_syllable_word)
    for text in ("啊[wei2]啊[jin4]", "说[w][éi][j][ìn]了", "围[jin4]"):
        r = say(client, text)
        assert r.status_code == 422 and r.json["error"]["code"] == "content_refused", (text, r.json)
    short = KeywordFilter(["违禁"])
    assert short.check(Subject("啊[wei2]啊[jin4]", "", "")) == Verdict("refuse", "keywords", "keyword_sound")
    assert short.check(Subject("围巾", "", "")).outcome == "pass"
    assert say(client, "我买了一条围巾。").status_code == 200
    assert say(client, "她[h][ào]干净。").status_code == 200  # pinyin alone is no reason to refuse


def test_the_transcript_and_style_are_moderated_too(make_app):
    client = client_for(make_app())
    assert post(client, "普通的一句话。", prompt_text="违禁测试词").status_code == 422
    assert post(client, "普通的一句话。", instruct="用違禁測試詞的语气").status_code == 422
    assert post(client, "普通的一句话。", prompt_text=PROMPT_TEXT).status_code == 200
    assert post(client, "她[h][ào]干净，为什么禁止测试？").status_code == 200  # no listed word is spoken
    assert post(client, "我们测试一下这个词语。").status_code == 200


def test_keyword_automaton_scales():
    words = [f"敏感词{i:05d}" for i in range(10_000)]
    f = KeywordFilter(words)
    text = "这是一段普通的文本，" * 20
    started = time.perf_counter()
    for _ in range(1000):
        assert f.check(Subject(text, "", "")).outcome == "pass"
    per_call_us = (time.perf_counter() - started) * 1000
    assert f.check(Subject("含有敏感词04321的文本", "", "")).outcome == "refuse"
    assert per_call_us < 1000  # generous bound: microseconds per 200-character text, not milliseconds


def wechat_chain(fake, **kw):
    provider = WeChatMsgSecCheck("wxappid123", "wxsecret456", api_base=fake.base)
    return ModerationChain([provider], **kw), provider


def test_wechat_msg_sec_check_pass_refuse_review_and_token_refresh(wechat):
    chain, provider = wechat_chain(wechat)
    user = lambda text: Subject(text, "wechat", "oUser123456")  # noqa: E731
    assert chain.check_remote(user("你好"))[0].outcome == "pass"
    with pytest.raises(Exception) as err:
        chain.check_remote(user("包含风险词的句子"))
    error = default_error_map()(err.value)
    assert error.code == "content_refused" and error.status == 422
    assert chain.check_remote(user("需要复核词"))[0].outcome == "review"
    strict, _ = wechat_chain(wechat, on_review="refuse")
    with pytest.raises(Exception) as err:
        strict.check_remote(user("需要复核词"))
    assert default_error_map()(err.value).code == "content_under_review"
    wechat.tokens.clear()  # the token was revoked (40001): one refresh, then it works
    assert chain.check_remote(user("你好"))[0].outcome == "pass"
    issued = len(wechat.tokens)
    for token in wechat.tokens:  # every token expires (42001), as the server's do after expires_in
        wechat.tokens[token] = 0.0
    assert chain.check_remote(user("你好"))[0].outcome == "pass" and len(wechat.tokens) == issued + 1
    token_calls = [query for path, query in wechat.calls if path == "/cgi-bin/token"]
    assert all(q.get("grant_type") == "client_credential" for q in token_calls)
    sent = [body for path, body in wechat.calls if path == "/wxa/msg_sec_check"][-1]
    assert sent["openid"] == "oUser123456" and sent["version"] == 2
    # API-key callers have no openid: WeChat cannot judge them, the check is skipped
    assert chain.check_remote(Subject("包含风险词的句子", "api_key", "server"))[0].label == "not_a_wechat_user"


def test_wechat_down_refuses_by_default_or_passes_when_configured(wechat):
    wechat.down = True
    chain, _ = wechat_chain(wechat)
    with pytest.raises(Exception) as err:
        chain.check_remote(Subject("你好", "wechat", "oUser123456"))
    error = default_error_map()(err.value)
    assert error.code == "moderation_unavailable" and error.status == 503
    lenient, _ = wechat_chain(wechat, on_failure="pass")
    assert lenient.check_remote(Subject("你好", "wechat", "oUser123456"))[0].label == "unavailable"


def tms(fake, key="secretkey"):
    return TencentTextModeration.from_settings(Settings.from_env(
        {}, tencent_secret_id="AKIDtest", tencent_secret_key=key, tencent_tms_endpoint=fake.endpoint))


def test_tencent_tms_pass_block_review_and_failure():
    fake = FakeTencentTms("AKIDtest", "secretkey")
    try:
        chain = ModerationChain([tms(fake)])
        assert chain.check_remote(Subject("今天天气很好", "api_key", "s"))[0].outcome == "pass"
        with pytest.raises(Exception) as err:
            chain.check_remote(Subject("这是危险内容", "api_key", "s"))
        assert default_error_map()(err.value).code == "content_refused"
        assert chain.check_remote(Subject("一些可疑内容", "api_key", "s"))[0].outcome == "review"
        assert base64.b64decode(fake.requests[0]["Content"]).decode() == "今天天气很好"
        broken = ModerationChain([tms(fake, key="wrong")])  # signature refused by the server
        with pytest.raises(Exception) as err:
            broken.check_remote(Subject("今天天气很好", "api_key", "s"))
        assert default_error_map()(err.value).code == "moderation_unavailable"
        assert ModerationChain([tms(fake, key="wrong")], on_failure="pass").check_remote(
            Subject("今天天气很好", "api_key", "s"))[0].label == "unavailable"
    finally:
        fake.close()


def test_cloud_checks_run_on_misses_in_the_app(make_app):
    fake = FakeTencentTms("AKIDtest", "secretkey")
    try:
        app = make_app(moderation="keywords,tencent", tencent_secret_id="AKIDtest", tencent_secret_key="secretkey",
                       tencent_tms_endpoint=fake.endpoint)
        client = client_for(app)
        assert post(client, "这是危险内容。").status_code == 422
        assert post(client, "今天天气很好。").status_code == 200
        calls = len(fake.requests)
        assert post(client, "今天天气很好。").json["cached"]
        assert len(fake.requests) == calls  # a cache hit does not pay for a cloud check again
    finally:
        fake.close()


def test_enrollment_transcript_is_moderated(make_app):
    asr = FakeTencentAsr("AKIDtest", "secretkey", "这段录音说了风险词")
    wechat = FakeWeChat("wxappid123", "wxsecret456")
    wechat.open_interface = True
    try:
        from functions.asr import build_transcriber

        settings = Settings.from_env({}, asr="tencent", tencent_secret_id="AKIDtest", tencent_secret_key="secretkey",
                                     tencent_asr_endpoint=asr.endpoint)
        app = make_app(transcriber=build_transcriber(settings), moderation="keywords,wechat",
                       wechat_appid="wxappid123", wechat_secret="wxsecret456", wechat_api_base=wechat.base,
                       wechat_cloud_hosting=True, dev_mode=False)
        client = client_for(app, "unused")
        r = client.post("/v1/voices", data={"consent": "self", "audio": (io.BytesIO(RECORDING), "a.wav")},
                        content_type="multipart/form-data", headers=WX_HEADERS)
        assert r.status_code == 422 and r.json["error"]["code"] == "content_refused"
        asr.transcript = PROMPT_TEXT
        r = client.post("/v1/voices", data={"consent": "self", "audio": (io.BytesIO(RECORDING), "a.wav")},
                        content_type="multipart/form-data", headers=WX_HEADERS)
        assert r.status_code == 201
    finally:
        asr.close()
        wechat.close()
