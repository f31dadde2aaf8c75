"""Users' own processors, registered by setting, run end to end through a real worker."""

from __future__ import annotations

import asyncio

import pytest

from jobs.models import ItemStatus, JobLogEntry, JobStatus, LogLevel
from jobs.processors.base import Cancelled, Context
from jobs.processors.registry import get_processor, processors
from jobs.services import ServiceError, cancel_job, submit_batch
from tests.conftest import kill_process_group, refreshed, start_worker_process
from tests.jobs.test_crash_safety import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PLUGINS = ["tests.plugins.TitleProbe", "tests.plugins.Sleepy", "tests.plugins.Broken"]


@pytest.fixture
def plugins(settings):
    settings.BATCHSITE_PROCESSORS = PLUGINS
    return settings


def test_a_user_processor_is_registered_next_to_the_builtins(plugins):
    assert {"http_check", "title_probe", "sleepy", "broken"} <= set(processors())
    assert get_processor("title_probe").steps == ("fetch", "parse")


def test_a_user_processor_runs_through_a_real_worker(plugins, alice, site, burst_worker):
    urls = [site.url("/ok/p1"), site.url("/ok/p2"), site.url("/404")]
    job = submit_batch(alice, urls=urls, processor="title_probe", options={"shout": True}).job
    burst_worker()
    job = refreshed(job)
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    ok = job.items.get(url=urls[0])
    assert ok.result["title"] == "LOCAL TEST PAGE"
    assert ok.current_step == "parse"
    # The job's cache is shared by every item in the runner.
    assert {i.result["first_url"] for i in job.items.filter(status="succeeded")} == {urls[0]}
    missing = job.items.get(url=urls[2])
    assert (missing.status, missing.error_code, missing.http_status) == (
        ItemStatus.FAILED,
        "HTTP_ERROR",
        404,
    )
    assert (ok.progress, missing.current_step, missing.progress) == (100.0, "fetch", 0.0)
    assert JobLogEntry.objects.filter(job=job, item=ok, level=LogLevel.DEBUG).exists()


def test_ctx_step_reports_the_step_and_progress_and_stops_a_cancelled_item():
    cancelled = False
    ctx = Context(
        fetcher=None,
        job_id="job",
        options={},
        cache={},
        is_cancelled=lambda: cancelled,
        log_sink=lambda level, message: None,
        steps=("fetch", "parse", "robots", "score"),
    )
    asyncio.run(ctx.step("robots"))
    assert (ctx.step_name, ctx.progress) == ("robots", 50.0)
    cancelled = True
    with pytest.raises(Cancelled):
        asyncio.run(ctx.step("score"))
    assert ctx.step_name == "robots"  # stopped where it was


def test_options_forms_are_described_in_the_openapi_schema(plugins, client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    body = schema["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["application/json"]
    submit = schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    options = {each["title"]: each for each in submit["properties"]["options"]["anyOf"]}
    assert {"http_check", "page_audit", "site_profile", "title_probe", "broken"} <= set(options)
    strategy = options["page_audit"]["properties"]["strategy"]
    assert (strategy["enum"], strategy["default"]) == (["mobile", "desktop"], "mobile")
    assert options["site_profile"]["properties"]["default_region"]["maxLength"] == 2
    # A user's processor is described from its own form; one without options takes none.
    assert options["title_probe"]["properties"] == {"shout": {"type": "boolean"}}
    assert options["title_probe"]["additionalProperties"] is False
    assert options["broken"]["properties"] == {}


def test_options_are_validated_by_the_processor_form(plugins, alice):
    with pytest.raises(ServiceError) as caught:
        submit_batch(alice, urls=["https://example.com"], processor="title_probe", options="loud")
    assert "options" in caught.value.errors


def test_a_crashing_processor_fails_its_items_not_the_runner(plugins, alice, site, burst_worker):
    job = submit_batch(alice, urls=[site.url("/ok")], processor="broken").job
    burst_worker()
    item = refreshed(job).items.get()
    assert (item.status, item.error_code) == (ItemStatus.FAILED, "PROCESSOR_ERROR")
    assert "ZeroDivisionError: bug in user code" in item.error
    assert refreshed(job).status == JobStatus.FAILED


def test_an_unregistered_processor_fails_the_job_cleanly(plugins, alice, site, burst_worker):
    job = submit_batch(alice, urls=[site.url("/ok")], processor="sleepy").job
    plugins.BATCHSITE_PROCESSORS = []  # removed from settings before a worker ran it
    burst_worker()
    job = refreshed(job)
    assert job.status == JobStatus.FAILED
    assert "Unknown processor 'sleepy'" in job.error
    assert job.items.get().error_code == "PROCESSOR_ERROR"


@pytest.mark.slow
def test_cancel_stops_in_flight_items_at_their_next_step(plugins, alice, site):
    urls = [site.url(f"/ok/s{i}") for i in range(200)]
    job = submit_batch(alice, urls=urls, processor="sleepy", concurrency=10).job
    # Items pause 2 s at "wait": a cancel always finds some there, however slowly the runner's
    # flushes (which bring it the news) come round on a loaded machine.
    worker = start_worker_process(
        "--burst", BATCHSITE_PROCESSORS=",".join(PLUGINS), BATCHSITE_TEST_SLEEPY_SECONDS="2"
    )
    try:
        wait_until(lambda: refreshed(job).count_succeeded >= 10)
        cancel_job(job)
        worker.wait(timeout=60)
    finally:
        kill_process_group(worker)
    job = refreshed(job)
    assert job.status == JobStatus.CANCELLED
    stopped = job.items.filter(status=ItemStatus.CANCELLED, current_step="wait")
    assert stopped.exists()  # in flight at cancel: stopped at "finish"
