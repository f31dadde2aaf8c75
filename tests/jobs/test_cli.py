"""manage.py submit_batch, create_api_key and reconcile, as a person runs them."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from jobs.models import ApiKey, BatchJob, JobStatus
from tests.conftest import ROOT, kill_process_group, start_worker_process, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)


def submit_in_subprocess(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "submit_batch", *args],
        cwd=ROOT,
        env=subprocess_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_submit_batch_from_a_file_prints_the_job(alice, tmp_path, site):
    path = tmp_path / "urls.csv"
    path.write_text(f"url\n{site.url('/ok')}\nnot a url\n{site.url('/ok')}\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("submit_batch", str(path), "--user", "alice", stdout=out, stderr=err)
    job = BatchJob.objects.get()
    assert job.owner == alice
    assert job.total_items == 1
    assert f"Submitted job {job.pk}: 1 URLs (1 duplicates, 1 rejected)" in out.getvalue()
    assert "line 3: 'not a url'" in err.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["--processor", "nope"],
        ["--priority", "99"],
        ["--options", "{not json"],
        ["--user", "nobody"],
    ],
)
def test_submit_batch_exits_2_on_bad_input(alice, tmp_path, args):
    path = tmp_path / "urls.txt"
    path.write_text("https://example.com\n")
    with pytest.raises(CommandError) as caught:
        call_command("submit_batch", str(path), "--user", "alice", *args)
    assert caught.value.returncode == 2
    assert not BatchJob.objects.exists()


def test_submit_batch_exits_2_when_nothing_is_valid(alice, tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text("ftp://example.com\n")
    with pytest.raises(CommandError) as caught:
        call_command("submit_batch", str(path), "--user", "alice")
    assert caught.value.returncode == 2


def test_submit_batch_exits_2_for_a_missing_file(alice):
    with pytest.raises(CommandError) as caught:
        call_command("submit_batch", "/nonexistent/urls.txt", "--user", "alice")
    assert caught.value.returncode == 2


@pytest.mark.slow
def test_submit_batch_wait_exits_0_when_everything_succeeds(alice, site):
    worker = start_worker_process()
    try:
        done = submit_in_subprocess(
            "-", "--user", "alice", "--wait", stdin=f"{site.url('/ok/w1')}\n{site.url('/ok/w2')}\n"
        )
    finally:
        kill_process_group(worker)
    assert done.returncode == 0, done.stderr
    assert "Completed: 2 succeeded, 0 failed" in done.stdout
    assert "100.0%" in done.stderr  # the progress bar reached the end
    assert BatchJob.objects.get().status == JobStatus.COMPLETED


@pytest.mark.slow
def test_submit_batch_wait_exits_1_when_some_fail(alice, site):
    worker = start_worker_process()
    try:
        done = submit_in_subprocess(
            "-",
            "--user",
            "alice",
            "--wait",
            "--max-attempts",
            "1",
            stdin=f"{site.url('/ok')}\n{site.url('/reset')}\n",
        )
    finally:
        kill_process_group(worker)
    assert done.returncode == 1, done.stderr
    assert "1 succeeded, 1 failed" in done.stdout


def test_create_api_key_prints_the_key_alone_on_its_last_line(alice):
    out = io.StringIO()
    call_command("create_api_key", "alice", "--scope", "read", stdout=out, stderr=io.StringIO())
    raw = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get()
    assert raw.startswith("bs_")
    assert raw.startswith(key.prefix)
    assert key.key_hash == ApiKey.hash(raw)
    assert raw not in key.key_hash
    assert key.scope == "read"
    assert ApiKey.lookup(raw) == key


def test_create_api_key_for_an_unknown_user_fails(db):
    with pytest.raises(CommandError):
        call_command("create_api_key", "nobody")


def test_reconcile_command_prints_its_report(db):
    out = io.StringIO()
    call_command("reconcile", stdout=out)
    assert '"dead_runners": 0' in out.getvalue()
