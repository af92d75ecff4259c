"""Text as the model will speak it: normalization (`normalize`) and CosyVoice3's inline markup (`markup`).

Shared by the synthesis path, voice enrollment and moderation, so it sits below all three."""
