"""The inference endpoint: the Triton-served `cosyvoice3` model."""

from .triton import InferenceRejected, InferenceUnavailable, SynthesisInput, TritonEndpoint

__all__ = ["InferenceRejected", "InferenceUnavailable", "SynthesisInput", "TritonEndpoint"]
