"""The dashboard's worker cards: every live RQ worker (RQ's worker registry, read in two Redis
round trips) joined with our Runner rows (what its work horse is doing for which batch job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from rq.utils import utcparse
from rq.worker_registration import get_keys

from jobs import redis_client
from jobs.models import Runner
from jobs.tasks import job_id_of

WORKER_KEY_PREFIX = "rq:worker:"
FIELDS = (
    "state",
    "birth",
    "last_heartbeat",
    "current_job",
    "hostname",
    "pid",
    "queues",
    "successful_job_count",
    "failed_job_count",
)
STATE_COLORS = {"busy": "blue", "idle": "green", "started": "green", "suspended": "amber"}


@dataclass
class WorkerCard:
    name: str
    state: str
    hostname: str
    pid: int | None
    queues: list[str]
    born: datetime | None
    heartbeat: datetime | None
    chunks_done: int  # RQ jobs (chunks) this worker finished
    chunks_failed: int
    current_job: str = ""  # the RQ job it runs now
    runners: list[Runner] = field(default_factory=list)  # the viewer's jobs it works on now
    busy_elsewhere: bool = False  # running a batch job the viewer may not see

    @property
    def color(self) -> str:
        return STATE_COLORS.get(self.state, "gray")

    @property
    def uptime(self) -> float | None:
        if self.born is None:
            return None
        return max(0.0, (datetime.now(UTC) - self.born).total_seconds())


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return utcparse(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def rq_workers() -> list[WorkerCard]:
    """Every worker RQ knows of whose key still lives (its heartbeat keeps it alive)."""
    conn = redis_client.shared()
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in get_keys(connection=conn))
    with conn.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, FIELDS)
        rows = pipe.execute() if keys else []
    cards = []
    for key, values in zip(keys, rows, strict=True):
        data = {name: _text(value) for name, value in zip(FIELDS, values, strict=True)}
        if not any(data.values()):  # registered but expired: a dead worker
            continue
        pid = data.get("pid")
        cards.append(
            WorkerCard(
                name=key.removeprefix(WORKER_KEY_PREFIX),
                state=data.get("state") or "?",
                hostname=data.get("hostname") or "",
                pid=int(pid) if pid and pid.isdigit() else None,
                queues=[q for q in (data.get("queues") or "").split(",") if q],
                born=_parse_time(data.get("birth")),
                heartbeat=_parse_time(data.get("last_heartbeat")),
                chunks_done=int(data.get("successful_job_count") or 0),
                chunks_failed=int(data.get("failed_job_count") or 0),
                current_job=data.get("current_job") or "",
            )
        )
    return cards


def worker_cards(runners: list[Runner]) -> list[WorkerCard]:
    """The cards, each with its runners among `runners` (those of the jobs the viewer may see);
    of a worker running someone else's batch the viewer learns only that. RedisError when Redis
    does not answer (the page says so)."""
    cards = rq_workers()
    by_worker: dict[str, list[Runner]] = {}
    for runner in runners:
        by_worker.setdefault(runner.worker_name, []).append(runner)
    for card in cards:
        card.runners = by_worker.get(card.name, [])
        card.busy_elsewhere = (
            card.state == "busy" and not card.runners and job_id_of(card.current_job) is not None
        )
    return cards
