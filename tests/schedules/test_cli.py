"""manage.py submit_batch --at/--cron/--every: the batch becomes a schedule; bad timing exits 2."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from jobs.models import BatchJob, Schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def urls(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text("https://example.com\nexample.org\nnot_a_url\n")
    return str(path)


@pytest.mark.parametrize(
    ("args", "kind", "timing"),
    [
        (["--every", "2h"], "interval", "every 2 hours"),
        (
            ["--cron", "0 9 * * 1-5", "--time-zone", "Europe/Berlin"],
            "cron",
            "cron 0 9 * * 1-5 (Europe/Berlin)",
        ),
        (["--at", "2099-01-01T09:00"], "once", "once"),
    ],
)
def test_timing_options_make_a_schedule(alice, urls, args, kind, timing):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "submit_batch", urls, "--user", "alice", "--priority", "high", *args, stdout=out, stderr=err
    )
    schedule = Schedule.objects.get()
    assert (schedule.owner, schedule.kind, schedule.timing, schedule.priority) == (
        alice,
        kind,
        timing,
        8,
    )
    assert schedule.urls == ["https://example.com", "https://example.org"]
    assert out.getvalue().startswith(f"Scheduled {schedule.pk}: 2 URLs, {timing}, next run ")
    assert "line 3: 'not_a_url'" in err.getvalue()
    assert not BatchJob.objects.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--every", "sometimes"],
        ["--cron", "0 9 * *"],
        ["--at", "2001-01-01T00:00"],
        ["--every", "1h", "--cron", "0 * * * *"],
        ["--every", "1h", "--time-zone", "Atlantis/Capital"],
        ["--every", "1h", "--wait"],
    ],
)
def test_bad_timing_exits_2_and_makes_nothing(alice, urls, args):
    with pytest.raises(CommandError) as caught:
        call_command(
            "submit_batch",
            urls,
            "--user",
            "alice",
            *args,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert caught.value.returncode == 2
    assert not Schedule.objects.exists()
