"""The demo sources: `sources.yaml`, its feed files, and a hand-written `python` scraper."""
