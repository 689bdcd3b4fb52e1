"""The demo sources: `sources.yaml`, its feed files, and a hand-written `python` scraper."""

# The demo's scrape runs judge events as of the morning after the feeds were captured
# (scrape config `as_of`), so the demo shows the same skips and failures on any day.
DEMO_AS_OF = "2026-11-25T06:00:00+00:00"
