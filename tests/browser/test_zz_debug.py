import pytest
from playwright.sync_api import expect
from tests.seed import seed_jobs
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
def test_debug(login_page, server, staff):
    seed_jobs(staff)
    page = login_page(staff, width=1280)
    page.goto(f"{server}/jobs?sort_by=created_at")
    print(page.evaluate("""() => { const W = document.documentElement.clientWidth; const out=[];
      for (const el of document.querySelectorAll('*')) { const r = el.getBoundingClientRect(); if (r.right > W+1) out.push(el.tagName+'.'+el.className+' '+Math.round(r.right)); }
      return [document.documentElement.scrollWidth, W, out.slice(0,15)]; }"""))
    page.screenshot(path="var/screenshots/debug.png", full_page=True)
