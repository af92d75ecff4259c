"""The text-to-speech request path; `pipeline.TtsPipeline` gives the order of its stages:

    request (parse, validate) -> guard (moderate, limit) -> voice -> plan (+ cache key) -> tasks (cache)
        -> render (single-flight: infer, encode, store) -> replies;   jobs: what does not fit a request
"""
