"""The RQ worker class batchsite's workers run (settings.RQ["WORKER_CLASS"]).

RQ forks a work horse for every job. Importing the runner, aiohttp and every processor once in
the worker, before the first fork, saves each runner that work (measured: more than half of a
no-op runner's CPU went to imports) and keeps a worker on one version of the code.
"""

from rq import Worker as RQWorker


def preload() -> None:
    import jobs.runner  # noqa: F401  (aiohttp, fetch, events, store)
    from jobs.processors.registry import processors

    processors()


class Worker(RQWorker):
    def __init__(self, *args, **kwargs) -> None:
        preload()
        super().__init__(*args, **kwargs)
