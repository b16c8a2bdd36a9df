"""Running a coroutine from synchronous code, whether or not an event loop is running."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a fresh event loop in a worker thread.

    ``asyncio.run`` refuses to run inside a running loop, and the callers here (server
    ``start()`` methods, sync fixtures, the CLI) may be called from sync code and from
    async tests alike; a worker thread works in both cases.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="copa-sync") as pool:
        return pool.submit(asyncio.run, coroutine).result()
