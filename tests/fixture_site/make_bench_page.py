"""Writes bench-100k.html (a ~100 KB news-style page) and its expected answers, counted here.

    python -m tests.fixture_site.make_bench_page

Deterministic: the same files every run. The counts in bench-100k.expected.json come from what this
script puts on the page, not from the processor under test.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORDS = [
    "coffee",
    "roast",
    "bean",
    "market",
    "price",
    "harvest",
    "farmer",
    "export",
    "brew",
    "cup",
    "morning",
    "grind",
    "origin",
    "blend",
    "aroma",
    "acidity",
    "body",
    "finish",
    "sample",
    "cupping",
    "score",
    "region",
    "altitude",
    "washed",
    "natural",
    "honey",
    "process",
    "climate",
    "rain",
    "season",
    "yield",
    "quality",
    "buyer",
    "trader",
    "shipment",
    "container",
    "port",
    "week",
    "report",
    "trend",
]
TITLE = "Coffee Market Daily: Prices, Harvests and Roasting News"
DESCRIPTION = (
    "Daily coffee market news: green bean prices, harvest reports from every origin, "
    "and what roasters are buying this week."
)
CARDS = 82
NAV = 24


def sentence(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(n)]


def build() -> tuple[str, dict]:
    rng = random.Random(20250601)
    visible_words = 0
    internal = external = nofollow = images = missing_alt = 0
    css = "\n".join(
        f".card-{i} {{ margin: {i % 7}px; padding: {i % 5}px; color: #{i * 4099 % 0xFFFFFF:06x}; }}"
        for i in range(120)
    )
    js = "\n".join(f"window.track_{i} = function (e) {{ return e + {i}; }};" for i in range(80))
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "NewsMediaOrganization", "name": "Coffee Market Daily"},
            {"@type": "WebSite", "name": "Coffee Market Daily"},
            {"@type": "ItemList", "numberOfItems": CARDS},
        ],
    }
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{TITLE}</title>",
        f'<meta name="description" content="{DESCRIPTION}">',
        '<link rel="canonical" href="/bench-100k.html">',
        '<link rel="alternate" hreflang="en" href="/bench-100k.html">',
        '<link rel="alternate" hreflang="es" href="/es/bench-100k.html">',
        f"<style>\n{css}\n</style>",
        f"<script>\n{js}\n</script>",
        f'<script type="application/ld+json">{json.dumps(ld)}</script>',
        "</head>",
        "<body>",
        '<header><nav><ul class="menu">',
    ]
    for i in range(NAV):
        label = f"Section {i}"
        parts.append(f'<li><a href="/section/{i}/">{label}</a></li>')
        internal += 1
        visible_words += 2
    parts.append("</ul></nav></header>")
    parts.append("<main><h1>Coffee market today</h1>")
    visible_words += 3
    for i in range(CARDS):
        heading = sentence(rng, 6)
        body = sentence(rng, 70)
        more = sentence(rng, 40)
        alt = "" if i % 8 == 0 else f' alt="{" ".join(sentence(rng, 3))}"'
        images += 1
        missing_alt += i % 8 == 0
        rel = ' rel="nofollow sponsored"' if i % 4 == 0 else ""
        nofollow += i % 4 == 0
        parts.append(
            f'<article class="card card-{i}">'
            f'<a href="/news/{i}.html"><img src="/img/{i}.jpg" width="320" height="180"{alt}></a>'
            f"<h2>{' '.join(heading).capitalize()}</h2>"
            f"<p>{' '.join(body)}.</p>"
            f"<p>{' '.join(more)}.</p>"
            f'<p class="meta"><a href="/news/{i}.html">Read more</a> · '
            f'<a href="https://source{i % 5}.example.com/{i}"{rel}>Source</a></p>'
            "</article>"
        )
        internal += 2
        external += 1
        visible_words += len(heading) + len(body) + len(more) + 3  # "Read more", "Source"
    parts.append("</main>")
    parts.append(
        '<footer><p>Coffee Market Daily</p><p><a href="mailto:desk@example.com">Write to us</a></p>'
        "</footer>"
    )
    visible_words += 3 + 3
    parts.append("<noscript>Tracking is disabled without JavaScript.</noscript>")
    parts += ["</body>", "</html>", ""]
    expected = {
        "processor": "page_audit",
        "url": "/bench-100k.html",
        "status": "succeeded",
        "result": {
            "status_code": 200,
            "title": {"text": TITLE, "length": len(TITLE)},
            "meta_description": {"text": DESCRIPTION, "length": len(DESCRIPTION)},
            "h1": ["Coffee market today"],
            "canonical": {"url": "{base}/bench-100k.html", "points_elsewhere": False},
            "lang": "en",
            "hreflang": [
                {"lang": "en", "href": "{base}/bench-100k.html"},
                {"lang": "es", "href": "{base}/es/bench-100k.html"},
            ],
            "word_count": visible_words,
            "links": {"internal": internal, "external": external, "nofollow": nofollow},
            "images": {"total": images, "missing_alt": missing_alt},
            "structured_data_types": ["ItemList", "NewsMediaOrganization", "WebSite"],
            "indexable": True,
        },
    }
    return "\n".join(parts), expected


def main() -> None:
    html, expected = build()
    (HERE / "bench-100k.html").write_text(html, encoding="utf-8")
    expected["result"]["page_weight"] = {"html_bytes": len(html.encode()), "compressed": True}
    (HERE / "bench-100k.expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(f"bench-100k.html: {len(html.encode()):,} bytes")


if __name__ == "__main__":
    main()
