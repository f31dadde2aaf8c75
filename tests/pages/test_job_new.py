"""The New batch page: the form, its live preview (the API's intake), the processor's options,
the estimate, and submit → the job's page, with refusals shown on the form."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.account.preferences import save_preferences
from jobs.batch_form import new_batch_initial
from jobs.models import BatchJob, JobStatus

pytestmark = pytest.mark.django_db

URL = "/jobs/new"


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def form_data(**overrides):
    data = {**new_batch_initial(None), "text": "example.com\nexample.org\n"}
    data.pop("options")  # the processor's own form, posted as options-<field>
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("name", ["job-new-preview", "job-new-options"])
def test_the_partials_ask_for_a_login(client, name):
    response = client.post(reverse(name)) if "preview" in name else client.get(reverse(name))
    assert response.status_code == 302


def test_the_form_starts_from_the_users_preferences(alice_client, alice, bob):
    save_preferences(
        alice,
        default_processor="page_audit",
        default_options={"strategy": "desktop"},
        default_priority=8,
        default_concurrency=120,
    )
    page = alice_client.get(URL).content.decode()
    assert 'name="concurrency" value="120"' in page
    assert '<option value="page_audit" selected>' in page
    assert '<option value="desktop" selected>' in page
    options = alice_client.get(reverse("job-new-options"), {"processor": "page_audit"})
    assert '<option value="desktop" selected>' in options.content.decode()
    assert new_batch_initial(bob)["concurrency"] == 50  # bob keeps the defaults


def test_the_form_starts_from_the_initial_values_with_every_processor(alice_client):
    page = alice_client.get(URL).content.decode()
    assert 'name="concurrency" value="50" min="1" max="500"' in page
    for processor in ("http_check", "page_audit", "site_profile"):
        assert f'value="{processor}"' in page
    assert 'name="options-method"' in page  # http_check's own options form
    assert 'value="5" selected' in page


def test_submitting_the_textarea_creates_the_job_and_lands_on_its_page(alice_client, alice):
    data = form_data(text="example.com\nexample.com\nnot a url\n", name="Mine", concurrency="20")
    data["options-method"] = "HEAD"
    response = alice_client.post(URL, data)
    job = BatchJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("job-detail", args=[job.pk])
    assert (job.owner, job.name, job.concurrency, job.total_items) == (alice, "Mine", 20, 1)
    assert job.options == {"method": "HEAD"}
    page = alice_client.get(response["Location"]).content.decode()
    assert "Submitted 1 URL, 1 duplicate dropped, 3 lines rejected." in page


def test_submitting_a_csv_upload(alice_client):
    upload = SimpleUploadedFile("sites.csv", b"name,website\nA,example.com\nB,example.org\n")
    response = alice_client.post(URL, {**form_data(text=""), "file": upload})
    assert response.status_code == 302
    job = BatchJob.objects.get()
    assert list(job.items.values_list("url", flat=True)) == [
        "https://example.com",
        "https://example.org",
    ]


def test_a_refused_batch_keeps_what_was_typed_and_says_why_by_field(alice_client):
    data = form_data(text="ftp://nope\n", name="Keep me", concurrency="7")
    response = alice_client.post(URL, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "No valid URL in this batch." in page
    assert "ftp://nope" in page
    assert 'value="Keep me"' in page
    assert 'value="7"' in page
    assert "1</span> rejected" in page  # the preview of what was typed
    assert not BatchJob.objects.exists()


def test_bad_settings_are_field_errors_and_nothing_is_created(alice_client):
    response = alice_client.post(URL, form_data(concurrency="501", max_attempts="0"))
    page = response.content.decode()
    assert response.status_code == 400
    assert page.count('class="field field--error"') == 2
    assert not BatchJob.objects.exists()


def test_bad_options_are_errors_on_the_options_form(alice_client):
    response = alice_client.post(URL, {**form_data(), "options-method": "PUT"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_a_service_refusal_without_a_field_is_shown_for_the_whole_form(alice_client, settings):
    settings.BATCHSITE_MAX_URLS_PER_BATCH = 1
    response = alice_client.post(URL, form_data())
    assert response.status_code == 413
    assert "the limit is 1" in response.content.decode()
    assert not BatchJob.objects.exists()


def test_text_and_a_file_at_once_are_refused_clearly(alice_client):
    upload = SimpleUploadedFile("urls.txt", b"example.net\n")
    response = alice_client.post(URL, {**form_data(), "file": upload})
    page = response.content.decode()
    assert "one way at a time" in page
    assert "Choose the file again" in page


def test_the_preview_counts_valid_duplicate_and_rejected_lines(alice_client):
    text = "example.com\nexample.com\nhttp://\n" + "\n".join(f"bad{i} url" for i in range(12))
    body = alice_client.post(reverse("job-new-preview"), {"text": text}).content.decode()
    assert "data-valid>1<" in body
    assert "data-duplicates>1<" in body
    assert "data-rejected>25<" in body
    assert "The first 10 of 25 rejected lines." in body


def test_the_preview_reads_uploads_and_says_why_a_file_is_refused(alice_client):
    upload = SimpleUploadedFile("a.csv", b"url\nexample.com\n")
    body = alice_client.post(reverse("job-new-preview"), {"file": upload}).content.decode()
    assert "data-valid>1<" in body
    binary = SimpleUploadedFile("a.csv", b"\x00\x01\x02" * 100)
    body = alice_client.post(reverse("job-new-preview"), {"file": binary}).content.decode()
    assert "looks like a binary file" in body
    empty = alice_client.post(reverse("job-new-preview")).content.decode()
    assert "Paste URLs or choose a file" in empty


def test_the_estimate_uses_the_processors_recent_median_and_the_concurrency(
    alice_client, alice, settings
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    job = BatchJob.objects.create(owner=alice, processor="page_audit", count_succeeded=3)
    for position, duration in enumerate((1.0, 2.0, 9.0)):
        job.items.create(
            position=position,
            url=f"https://e.com/{position}",
            duration=duration,
            finished_at=job.created_at,
            status="succeeded",
        )
    text = "\n".join(f"example.com/{i}" for i in range(25))
    body = alice_client.post(
        reverse("job-new-preview"), {"text": text, "processor": "page_audit", "concurrency": "10"}
    ).content.decode()
    # 25 URLs at 10 at a time: 3 waves of the median 2 s.
    assert "about 6.0 s" in body
    assert "median of 2.0 s" in body
    body = alice_client.post(
        reverse("job-new-preview"), {"text": text, "processor": "http_check"}
    ).content.decode()
    assert "nothing has run with this processor lately" in body


def test_the_options_partial_renders_the_chosen_processors_form(alice_client):
    body = alice_client.get(
        reverse("job-new-options"), {"processor": "page_audit"}
    ).content.decode()
    assert 'name="options-strategy"' in body
    assert "Audits each HTML page" in body
    fallback = alice_client.get(reverse("job-new-options"), {"processor": "nope"}).content.decode()
    assert 'name="options-method"' in fallback


def test_the_new_batch_page_costs_a_few_queries(alice_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        assert alice_client.get(URL).status_code == 200


def test_a_submitted_job_is_queued(alice_client):
    alice_client.post(URL, form_data())
    assert BatchJob.objects.get().status == JobStatus.QUEUED
