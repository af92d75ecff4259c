"""The text-to-speech request path; `pipeline.TtsPipeline` gives the order of its stages, `decide.Decider`
the one decision about their result:

    request (parse, validate) -> guard (moderate, limit) -> voice -> plan (+ cache key) -> tasks (cache)
        -> decide: Done (cached, or render: single-flight infer, encode, store) | Live (streaming) | Queued (jobs)
"""
