"""The text-to-speech request path: parse -> validate -> normalize -> hash -> cache -> single-flight -> infer
-> encode -> store -> respond (see `pipeline.TtsPipeline`)."""
