"""Inference side: the Triton model repository serving CosyVoice3, its engines and a local launcher."""
