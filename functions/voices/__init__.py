"""Enrolled voices: one recording, checked and normalized once, then referenced by an opaque voice_id."""
