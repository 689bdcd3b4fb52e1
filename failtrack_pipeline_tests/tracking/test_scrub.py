from __future__ import annotations

import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from failtrack_pipeline.base.scrub import scrub_secrets

SECRET = "Zx81kQ7pLm2v"

QUERY_NAMES = [
    "api_key",
    "apikey",
    "token",
    "access_token",
    "refresh_token",
    "key",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "pwd",
    "sig",
    "signature",
    "auth",
    "session",
    "X-Amz-Signature",
]


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_secret_in_a_url_query_is_masked_and_its_name_kept(name: str) -> None:
    message = f"GET https://feeds.example.org/export.ics?lang=en&{name}={SECRET}&page=2 failed"

    scrubbed = scrub_secrets(message)

    assert SECRET not in scrubbed
    assert f"{name}=***&page=2" in scrubbed


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_secret_assignment_outside_a_url_is_masked_whatever_the_case(name: str) -> None:
    message = f"retrying with {name.upper()}={SECRET} after HTTP 401"

    scrubbed = scrub_secrets(message)

    assert SECRET not in scrubbed
    assert f"{name.upper()}=*** after HTTP 401" in scrubbed


SECRET_FORMS = [
    pytest.param(
        "could not connect to https://alice:s3cr3t-pw@api.example.com/v1/events",
        ["alice", "s3cr3t-pw"],
        "https://***@api.example.com/v1/events",
        id="url-userinfo",
    ),
    pytest.param(
        "connection to postgresql://failtrack:hunter2@db.internal:5432/events refused",
        ["failtrack:", "hunter2"],
        "postgresql://***@db.internal:5432/events",
        id="database-url",
    ),
    pytest.param(
        "401 from upstream; sent Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c",
        ["9f8e7d6c5b4a3f2e1d0c"],
        "Authorization: Bearer ***",
        id="authorization-bearer-header",
    ),
    pytest.param(
        "request headers: {'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}",
        ["dXNlcjpwYXNzd29yZA=="],
        "'Authorization': ***",
        id="authorization-header-in-a-dict",
    ),
    pytest.param(
        "Proxy-Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        ["YWxhZGRpbjpvcGVuc2VzYW1l"],
        "Proxy-Authorization: Basic ***",
        id="proxy-authorization",
    ),
    pytest.param(
        "token rejected: Bearer eyJhbGciOiJIUzI1NiJ9x.payload-part.sig",
        ["eyJhbGciOiJIUzI1NiJ9x"],
        "Bearer ***",
        id="bare-bearer-token",
    ),
    pytest.param(
        "fallback to Basic dXNlcjpwYXNz failed",
        ["dXNlcjpwYXNz"],
        "Basic *** failed",
        id="bare-basic-credentials",
    ),
    pytest.param(
        "no venue for organiser jane.doe+events@example.co.uk (event 991)",
        ["jane.doe", "example.co.uk"],
        "organiser <email> (event 991)",
        id="email",
    ),
    pytest.param(
        "S3 upload failed for AKIAIOSFODNN7EXAMPLE in eu-west-1",
        ["AKIAIOSFODNN7EXAMPLE"],
        "failed for *** in eu-west-1",
        id="aws-access-key",
    ),
    pytest.param(
        "rejected eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeK",
        ["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "SflKxwRJSMeK"],
        "rejected ***",
        id="jwt",
    ),
    pytest.param(
        "clone failed with ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        ["ghp_16C7e42F292c6912E7710c838347Ae178B4a"],
        "clone failed with ***",
        id="github-token",
    ),
    pytest.param(
        "Stripe said no to sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ["4eC39HqLyjWDarjtT1zdp7dc"],
        "Stripe said no to ***",
        id="stripe-key",
    ),
    pytest.param(
        "slack notify failed for xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        ["17653672481", "pdFZKVeTuE8sk7oOcBrzbqgy"],
        "failed for ***",
        id="slack-token",
    ),
    pytest.param(
        "geocoder refused AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        ["SyDaGmWKa4JsXZ"],
        "geocoder refused ***",
        id="google-api-key",
    ),
    pytest.param(
        "bad config 'deploy': '-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA\\n"
        "-----END RSA PRIVATE KEY-----'",
        ["MIIEowIBAAKCAQEA"],
        "bad config 'deploy': '***'",
        id="private-key-block",
    ),
    pytest.param(
        'login payload {"user": "feeds", "password": "correct horse battery staple"}',
        ["correct", "horse", "staple"],
        '"password": ***',
        id="quoted-password-with-spaces",
    ),
    pytest.param(
        "db settings: password: hunter2, host: db.internal",
        ["hunter2"],
        "password: ***, host: db.internal",
        id="password-after-a-colon",
    ),
    pytest.param(
        "env GITHUB_TOKEN=ghp_x1y2z3 and AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG",
        ["ghp_x1y2z3", "wJalrXUtnFEMI"],
        "GITHUB_TOKEN=*** and AWS_SECRET_ACCESS_KEY=***",
        id="prefixed-environment-names",
    ),
]


@pytest.mark.parametrize(("message", "secrets", "expected"), SECRET_FORMS)
def test_every_secret_form_is_masked(message: str, secrets: list[str], expected: str) -> None:
    scrubbed = scrub_secrets(message)

    assert [secret for secret in secrets if secret in scrubbed] == []
    assert expected in scrubbed


@pytest.mark.parametrize(("message", "secrets", "expected"), SECRET_FORMS)
def test_scrubbing_twice_changes_nothing(message: str, secrets: list[str], expected: str) -> None:
    once = scrub_secrets(message)

    assert scrub_secrets(once) == once


@pytest.mark.parametrize(
    "message",
    [
        "Bearer token expired for source lido_amsterdam",
        "Basic validation failed: title missing",
        "Unexpected token: < in JSON at position 0",
        "Missing key: 'venue'",
        "KeyError: 'performers'",
        "monkey=5 is not a valid rating",
    ],
)
def test_ordinary_words_that_sound_like_secrets_are_left_alone(message: str) -> None:
    assert scrub_secrets(message) == message


# Text built from the pieces secrets are made of, so generated examples reach the rules.
SECRET_LIKE_TEXT = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from(
            ["api_key", "token", "password", "Authorization", "Bearer ", "Basic ", "=", ":",
             " ", "'", '"', "https://", "@", "x.com", "/", "?", "&", ",", "…", "***", "a",
             "Zx81", "eyJabcdefghij.", "AKIA", "\n", "-", "_", "}", "<value>"]
        ),
        max_size=200,
    ).map("".join),
)  # fmt: skip


@given(SECRET_LIKE_TEXT)
@example("EYJ00000000.PASSWORD=0")  # a JWT starts `eyJ` exactly: no JWT once its value was masked
@example('password = @"hunter2";')  # `@***` is a masked value, not a value starting with `@`
def test_scrubbing_never_raises_and_is_idempotent(text: str) -> None:
    once = scrub_secrets(text)

    assert scrub_secrets(once) == once


@pytest.mark.parametrize(
    "text",
    [
        "'" * 1_000_000,
        "a." * 500_000,
        "token=" * 170_000,
        "x@" * 500_000,
        "Bearer " + "aB1" * 330_000,
    ],
    ids=["quotes", "dotted-word", "assignments", "at-signs", "bearer"],
)
def test_scrubbing_a_hostile_megabyte_takes_linear_time(text: str) -> None:
    started = time.perf_counter()
    scrub_secrets(text)

    assert time.perf_counter() - started < 5
