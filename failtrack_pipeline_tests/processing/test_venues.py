"""The demo's venue step: fuzzy venue matching, coordinates, and a bad venue list named."""

from __future__ import annotations

from pathlib import Path

import pytest

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import ConfigError, EventError
from failtrack_pipeline.processing.venues import load_venues


@pytest.mark.parametrize(
    ("venue_name", "matched"),
    [
        ("Bimhuis", "Bimhuis"),
        ("Riverside Theatre – Main Stage", "Riverside Theatre"),
        ("TechHub Farringdon, 20 Farringdon Rd, London EC1M 3HE", "TechHub Farringdon"),
    ],
)
def test_a_venue_name_finds_its_venue_despite_extra_words(venue_name: str, matched: str) -> None:
    assert load_venues().match(venue_name).name == matched


@pytest.mark.parametrize("venue_name", ["OCCII", "Riverside Park Amphitheater", "", None])
def test_a_venue_in_no_list_is_a_venue_error(venue_name: str | None) -> None:
    with pytest.raises(EventError) as raised:
        load_venues().match(venue_name, external_id="e-1")
    assert (raised.value.category, raised.value.external_id) == (ErrorCategory.VENUE, "e-1")


def test_a_venue_without_coordinates_is_a_geocoding_error() -> None:
    venues = load_venues()
    assert venues.coordinates(venues.match("Bimhuis")) == (52.3779, 4.9101)
    with pytest.raises(EventError, match="venue='Kings Place' has no coordinates") as raised:
        venues.coordinates(venues.match("Kings Place"))
    assert raised.value.category is ErrorCategory.GEOCODING


def test_a_bad_venue_list_names_the_file_the_venue_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "venues.yaml"
    path.write_text("venues:\n  - {name: Hall}\n  - {name: Dome, latitude: 123}\n")
    with pytest.raises(ConfigError) as raised:
        load_venues(path)
    assert str(raised.value).startswith(f"{path}: venue #2: field 'latitude': ")
