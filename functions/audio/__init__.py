"""Audio in (prompt decoding, bounded) and out (encoding the synthesized waveform)."""
