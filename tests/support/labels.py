"""Reading a file's AIGC label back with mutagen: an independent reader, as a checker would."""

from __future__ import annotations

import io
import json

import mutagen
import mutagen.id3


def read_label(fmt: str, data: bytes) -> dict:
    f = io.BytesIO(data)
    if fmt == "aac":  # ADTS: the ID3v2 tag before the first frame
        return json.loads(str(mutagen.id3.ID3(f)["TXXX:AIGC"]))
    tags = mutagen.File(f).tags
    value = tags["TXXX:AIGC"] if "TXXX:AIGC" in tags else tags["AIGC"][0]
    return json.loads(str(value))
