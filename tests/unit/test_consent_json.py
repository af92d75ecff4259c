"""A voice is cloned only with the caller's explicit statement (functions/voices/consent.py), whichever form
carries the recording: JSON base64 uploads need `consent` as much as multipart ones do."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from tests.audio_samples import recorder_files
from tests.support import ALICE_KEY, client_for

AUDIO = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
ENDPOINTS = {"/v1/voices": {"audio_base64": AUDIO},
             "/v1/tts": {"text": "一次性克隆。", "prompt_audio_base64": AUDIO}}


def post_json(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def audit_lines(caplog, path):
    return [line for line in (json.loads(r.getMessage()) for r in caplog.records if r.name == "functions.audit")
            if line["endpoint"] == path]


@pytest.mark.parametrize("path", list(ENDPOINTS))
@pytest.mark.parametrize("consent", [None, "", "yes", "SELF", "他同意了"])
def test_a_json_upload_without_a_valid_statement_is_refused(unit_app, endpoint, path, consent):
    app = unit_app(dev_mode=False)
    body = {**ENDPOINTS[path], **({} if consent is None else {"consent": consent})}
    r = post_json(client_for(app, ALICE_KEY), path, body)
    assert r.status_code == 400 and r.json["error"]["code"] == "consent_required", r.json
    assert client_for(app, ALICE_KEY).get("/v1/voices").json["voices"] == []  # nothing was enrolled
    assert endpoint.requests == []  # nothing was synthesized


@pytest.mark.parametrize("consent", ["self", "authorized"])
def test_a_json_enrollment_keeps_the_statement_it_was_given(unit_app, caplog, consent):
    caplog.set_level(logging.INFO, logger="functions.audit")
    alice = client_for(unit_app(dev_mode=False), ALICE_KEY)
    r = post_json(alice, "/v1/voices", {**ENDPOINTS["/v1/voices"], "consent": consent})
    assert r.status_code == 201 and r.json["consent"] == consent, r.json
    assert alice.get(f"/v1/voices/{r.json['voice_id']}").json["consent"] == consent
    assert audit_lines(caplog, "/v1/voices")[-1]["consent"] == consent


@pytest.mark.parametrize("consent", ["self", "authorized"])
def test_a_json_one_off_clone_keeps_the_statement_it_was_given(unit_app, endpoint, caplog, consent):
    caplog.set_level(logging.INFO, logger="functions.audit")
    alice = client_for(unit_app(dev_mode=False), ALICE_KEY)
    r = post_json(alice, "/v1/tts", {**ENDPOINTS["/v1/tts"], "consent": consent})
    assert r.status_code == 200 and r.json["audio_url"], r.json
    assert len(endpoint.requests) == 1
    line = audit_lines(caplog, "/v1/tts")[-1]
    assert (line["status"], line["consent"]) == (200, consent)
