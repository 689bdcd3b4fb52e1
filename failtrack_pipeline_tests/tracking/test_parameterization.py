"""The normalizer's rules as Sentry tests its parameterization: named (name, input, expected)
cases, one or more per rule, and an explicit list of known misses.

A known miss asserts today's output, so that a rule change which fixes one fails here and
the case moves up to CASES (and GROUPING_VERSION is bumped).
"""

# ruff: noqa: E501  (a case table reads best one case to a line)
from __future__ import annotations

import pytest

from failtrack_pipeline.base.normalize import (
    GROUPING_VERSION,
    NORMALIZE_RULES,
    normalize_message,
    rules_digest,
)

# The rule tables each grouping version stands for. Changed a rule? Bump GROUPING_VERSION
# in tracking/normalize.py (stored groups are then re-keyed) and record the new digest.
# A version holds a second digest only for a rewrite that changes no rule's matches (so no
# message's form), shown by comparing the two trees' outputs on the reference corpora:
# version 4's second spells an upper-case UUID's last letter `[A-F]` instead of a
# look-behind, which its prefilter can read (bench/README.md, issue 16's last part).
DIGESTS = {
    2: {"97c8649eec686a3fba673a26995ceab271a89603bfb3510e9d95ff72b8ba7859"},
    3: {"9db4bc07d69aea023310d088b0fef839c79adec69ca306540a1530498f9926fb"},
    4: {
        "c43724b7aabfad7b6e076101bb71348b29f93e842a41f7d5ac8bf944df5e2ac2",
        "d7240eb5bff90f2ed1dffd8bec37a60199563de0495559985630d2f76b233849",
    },
}

CASES: list[tuple[str, str, str]] = [
    ("url", "GET https://api.example.com/v1/events/7?page=2 failed", "GET https://api.example.com/<path> failed"),
    ("url_userinfo", "fetch https://bob:hunter2@feeds.example.org/x.ics", "fetch https://feeds.example.org/<path>"),
    ("url_quoted", "for url 'https://api.example.com/v1'", "for url https://api.example.com/<path>"),
    ("ip_with_port", "connect to 0.0.0.0:80 refused", "connect to <host>:<int> refused"),
    ("ip", "no route to 10.0.4.17", "no route to <ip>"),
    ("ip_list", "from 10.0.0.1,10.0.0.2 GET", "from <ip> GET"),
    ("ipv6", "fallback 2001:db8::1 unreachable", "fallback <ip> unreachable"),
    ("ipv6_unspecified_and_cidr", "bind :: failed, route fc00::/7 and 10.0.0.0/8", "bind <ip> failed, route <ip> and <ip>"),
    ("ipv4_mapped", "peer ::ffff:192.168.1.1 reset", "peer <ip> reset"),
    ("url_ipv6_host", "GET http://2001:db8::1/x failed", "GET http://2001:db8::1/<path> failed"),
    ("rust_path_is_no_ip", "panicked at Result::expect() in Feed::parse()", "panicked at Result::expect() in Feed::parse()"),
    ("host_with_port", "proxy.cse.cuhk.edu.hk:5070 open through proxy", "<host>:<int> open through proxy"),
    ("host", "could not resolve feeds.example.org", "could not resolve <host>"),
    ("uuid", "run 550e8400-e29b-41d4-a716-446655440000 failed", "run <uuid> failed"),
    ("traceparent", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "traceparent: <trace>"),
    ("xray_trace", "trace 1-5f84c7a1-3c2f9e0b1d4a6e8f7b5c0d2e dropped", "trace <trace> dropped"),
    ("iso_datetime", "starts 2024-05-01T20:00:00+02:00", "starts <datetime>"),
    ("sql_datetime", "at 2024-05-01 20:00:00.123", "at <datetime>"),
    ("icalendar_datetime", "DTSTART 20240501T200000Z out of range", "DTSTART <datetime> out of range"),
    ("compressed_datetime", "at 20261203 071530+0100 and 20261130 23:05:09.125000", "at <datetime> and <datetime>"),
    ("go_layout_zone", "expected 2026-12-03T07:15:30Z01:00", "expected <datetime>"),
    ("python_datetime_repr", "starts datetime.datetime(2026, 12, 3, 20, 0, 0, 125000) in the past", "starts <datetime> in the past"),
    ("rfc2822", "Mon, 02 Jan 2006 15:04:05 MST", "<datetime>"),
    ("rfc2822_gmt", "Retry-After until Wed, 21 Oct 2015 07:28:00 GMT", "Retry-After until <datetime>"),
    ("javascript_date", "Mon Jan 02 2006 15:04:05 GMT+0000 (Coordinated Universal Time)", "<datetime>"),
    ("ctime", "at Fri Jul 1 09:04:50 2005 x", "at <datetime> x"),
    ("syslog", "Jun 14 15:16:01 combo sshd", "<datetime> combo sshd"),
    ("twelve_hour", "doors at 11:21PM", "doors at <time>"),
    ("twelve_hour_spaced", "doors at 9:05 pm sharp", "doors at <time> sharp"),
    ("time", "doors at 19:30, sold out", "doors at <time>, sold out"),
    ("duration_spelled", "lifetime <1 sec", "lifetime <time>"),
    ("date_iso", "ends 2024-05-01", "ends <date>"),
    ("date_dotted", "sold 03.05.2024", "sold <date>"),
    ("date_named", "on 5th March 2024", "on <date>"),
    ("date_month_first", "on March 5, 2024 x", "on <date> x"),
    ("mac", "BSSID changed to 0c:84:dc:a1:19:fb", "BSSID changed to <mac>"),
    ("path", "cannot open /var/lib/nova/instances/x.img", "cannot open <path>"),
    ("path_with_query", '"GET /v2/servers/detail?all_tenants=1 HTTP/1.1" status: 200', '"GET <path> HTTP/<float>" status: <int>'),
    ("quoted_prose_keeps_constants", '"DELETE /v2/a/b HTTP/1.1" 404', '"DELETE <path> HTTP/<float>" <int>'),
    ("json_key_is_constant", '{"error" => "(#5120)", "code": 7}', '{"error" => <value>, "code": <int>}'),
    ("quoted_word", 'venue "Paradiso" has no address', "venue <value> has no address"),
    ("quoted_datetime", "Invalid date '2024-13-45 10:00' for starts_at", "Invalid date <value> for starts_at"),
    ("assigned", "authentication failure; uid=0 rhost=10.1.2.3 user=root", "authentication failure; uid=<value> rhost=<value> user=<value>"),
    ("assigned_quoted", 'acquire tag="View Lock", pid=7', "acquire tag=<value>, pid=<value>"),
    ("user_name", "Invalid user admin from 1.2.3.4", "Invalid user <value> from <ip>"),
    ("password_for", "Failed password for git from 1.2.3.4 port 22 ssh2", "Failed password for <value> from <ip> port <int> ssh2"),
    ("hex", "object 5f3a9c1b7e2d not found, checksum 0x1f", "object <hex> not found, checksum <hex>"),
    ("hex_letters_only", "magic deadbeef, then DEADBEEF", "magic <hex>, then <hex>"),
    ("hex_zero_padded", "00000001 Creating NT transaction", "<hex> Creating NT transaction"),
    ("underscore_id", "PacketResponder 1 for block blk_38865049064139660 terminating", "PacketResponder <int> for block <id> terminating"),
    ("underscore_id_negative", "Deleting block blk_-6952295868487656571", "Deleting block <id>"),
    ("hadoop_attempt", "attempt_1445144423722_0020_m_000000_0 TaskAttempt", "<id> TaskAttempt"),
    ("digits_joined", "Session: 30546354_3185874402 initialized", "Session: <id> initialized"),
    ("letters_and_digits", "no server for domain storage1024", "no server for domain <id>"),
    ("swift_transaction", "txn tx9c3e51f0b2d84a7e6f1a0-00656f2a1b-east02 failed", "txn <id> failed"),
    ("component_identity", "package: Package_for_KB2800095~31bf3856ad364e35~amd64~~6.1.2.0, x", "package: <id>, x"),
    ("size", "1573 bytes (1.53 KB) sent, 512 B received", "<size> sent, <size> received"),
    ("float_and_units", "latitude 52.3731 out of range after 1500ms (attempt 3)", "latitude <float> out of range after <duration> (attempt <int>)"),
    ("duration", "timed out after 0.250s, retried in 750ms", "timed out after <duration>, retried in <duration>"),
    ("int", "event 991 of 1000", "event <int> of <int>"),
    ("words_with_digits_stay", "utf8 codec error: http2 stream reset over ipv4", "utf8 codec error: http2 stream reset over ipv4"),
    ("apostrophes_open_nothing", "can't parse the venue's address", "can't parse the venue's address"),
]  # fmt: skip

# What the normalizer does not parameterize yet, with what it gives today.
KNOWN_MISSES: list[tuple[str, str, str]] = [
    # An empty value and a present one cannot be told to be one slot.
    ("empty_parentheses", "connection from 1.2.3.4 () at x", "connection from <ip> () at x"),
    # A bare word is never a value unless its position says so (`user X`, `name=X`).
    ("service_name", "removing chargen", "removing chargen"),
    # Reverse-DNS names are kept: they are mostly exception and class names.
    ("reverse_dns", "com.apple.CacheDelete.daily: told me", "com.apple.CacheDelete.daily: told me"),
    # A bare word with a port could be `status:500`; only dotted names and IPs are hosts.
    ("bare_host_with_port", "wpad:80 error", "wpad:<int> error"),
    # Sentry's cases failtrack answers otherwise on purpose (bench/bench_sentry_cases.py):
    # a URL keeps its scheme and host, so two hosts' failures stay apart;
    ("url_keeps_host", "http://feeds.example.org/export/week/12", "http://feeds.example.org/<path>"),
    # a date or time is a shape, not a checked value: a scraper's bad date groups with good ones;
    ("invalid_date", "2026-02-31", "<date>"),
    ("invalid_time", "doors 19:75", "doors <time>"),
    # a quoted word is a value as a whole (Sentry keeps the quotes: `b = '<int>'`);
    ("quoted_number", "limit = '25'", "limit = <value>"),
    # four hex digits are a hex number to Sentry only: `abc1` may be a word.
    ("short_hex_word", "bad1-20261203-9f8e7d6c5b4a39281706f5e4", "bad1-<int>-<hex>"),
    # Weekday and month names outside a date stay words.
    ("lone_weekday", "closed on Tuesday in March", "closed on Tuesday in March"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "message", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parameterization_case(name: str, message: str, expected: str) -> None:
    assert normalize_message(message) == expected


@pytest.mark.parametrize(
    ("name", "message", "today"), KNOWN_MISSES, ids=[c[0] for c in KNOWN_MISSES]
)
def test_known_miss_is_still_missed(name: str, message: str, today: str) -> None:
    assert normalize_message(message) == today, f"{name} is fixed: move it to CASES"


def test_every_rule_is_reached_by_a_case() -> None:
    unreached = [
        rule.name
        for rule in NORMALIZE_RULES
        if not any(rule.regex().search(message) for _, message, _ in CASES)
    ]
    assert unreached == []


def test_a_rule_change_comes_with_a_new_grouping_version() -> None:
    assert rules_digest() in DIGESTS.get(GROUPING_VERSION, set()), (
        "the scrubber's or normalizer's rules changed: bump GROUPING_VERSION, record its digest"
    )
