"""CPU-bound work (decode, encode, resample, VAD) off the event loop.

Under gunicorn's gevent worker every connection is a greenlet on one OS thread: a 200 ms encode run there would
stall every other connection for 200 ms. `cpu(fn, ...)` runs it on gevent's native thread pool instead (PyAV
and numpy release the GIL while they work) and waits cooperatively; anywhere else (threads, event functions,
tests) it simply calls `fn`.
"""

from __future__ import annotations

import sys
from typing import Callable, TypeVar

T = TypeVar("T")


def evented() -> bool:
    """True inside a gevent-patched process (the production host)."""
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return monkey.is_module_patched("socket")


def cpu(fn: Callable[..., T], *args, **kwargs) -> T:
    if not evented():
        return fn(*args, **kwargs)
    from gevent import get_hub

    return get_hub().threadpool.apply(fn, args, kwargs)
