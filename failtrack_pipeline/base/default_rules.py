"""The default message rules: an ordered table, the first rule that matches decides.

categorize() reads this table only after failtrack's typed errors and the known
exception types (see categorize.py), and after any user rules. A pattern is a
case-insensitive regular expression searched in the scrubbed messages of the whole
exception chain (Dagster's own wrapper messages excluded).

Order runs from specific to generic: transport problems (rate limit, credentials,
network) and unreadable feeds first, then the domain (coordinates, venue, performer,
category), then data problems, and the catch-all words ("missing", "invalid") last, so
"venue missing" is a venue_error and "latitude out of range" a geocoding_error.
A bare status code only counts next to a word that makes it one ("HTTP 429",
"status_code=403", "error '503"): "event 429" is not a rate limit.
"""

from __future__ import annotations

from typing import Final

from failtrack_pipeline.base.categories import ErrorCategory

# (name, category, pattern): each pattern is a case-insensitive RE2 expression, written
# one alternative a line.
DEFAULT_RULE_TABLE: Final[tuple[tuple[str, ErrorCategory, str], ...]] = (
    (
        "rate_limited",
        ErrorCategory.RATE_LIMIT,
        (
            "\\b(?:https?|status(?:[ _]?code)?|code|error|response)[\\W_]{0,3}429\\b|"
            "too many requests|"
            "rate[ _-]?limit|"
            "throttl|"
            "quota exceeded"
        ),
    ),
    # A parser's own words come first: expat's "not well-formed (invalid token)" is about
    # the document, not about credentials.
    (
        "parser_reported",
        ErrorCategory.PARSING,
        (
            "not well-formed \\(invalid token\\)|"
            "undefined entity|"
            "unknown string format|"
            "\\bsax\\w*(?:exception|error)|"
            "syntax error: line \\d+|"
            "mismatched tag|"
            "no element found|"
            "junk after document element"
        ),
    ),
    (
        "credentials_rejected",
        ErrorCategory.AUTHENTICATION,
        (
            "\\b(?:https?|status(?:[ _]?code)?|code|error|response)[\\W_]{0,3}40[13]\\b|"
            "unauthori[sz]ed|"
            "forbidden|"
            "expired (?:api[ _-]?)?(?:token|key|credentials?|session)|"
            "(?:token|key|credentials?|session) (?:has |is )?expired|"
            "invalid (?:api[ _-]?key|token|credentials?|client|grant)|"
            "missing (?:api[ _-]?key|credentials?|access token)|"
            "authenticat|"
            "access denied"
        ),
    ),
    # Dagster's words for a run that died outside its step (worker killed, out of memory) or
    # never started: like our database, the run's infrastructure is something it depends on.
    (
        "run_worker_lost",
        ErrorCategory.DEPENDENCY,
        (
            "marked as failed from outside the execution context|"
            "run worker status|"
            "execution process for .{1,80} (?:unexpectedly exited|was terminated by signal)|"
            "taking longer than \\d+ seconds to (?:start|cancel)"
        ),
    ),
    (
        "network_unreachable",
        ErrorCategory.NETWORK,
        (
            "timed? ?out\\b|"
            "connection (?:refused|reset|aborted|closed|error|failed)|"
            "name or service not known|"
            "temporary failure in name resolution|"
            "nodename nor servname|"
            "getaddrinfo failed|"
            "failed to resolve|"
            "no route to host|"
            "network is unreachable|"
            "\\b(?:https?|status(?:[ _]?code)?|code|error|response)[\\W_]{0,3}50[0234]\\b|"
            "bad gateway|"
            "service unavailable|"
            "gateway time|"
            "server disconnected|"
            "remote end closed|"
            "connection broken|"
            "broken pipe|"
            "\\bssl\\b|"
            "certificate verify failed"
        ),
    ),
    (
        "unreadable_feed",
        ErrorCategory.PARSING,
        (
            "expecting (?:value|property name|.{1,3} delimiter)|"
            "json ?decode|"
            "invalid json|"
            "not valid json|"
            "(?:json|xml|html|csv|ical|icalendar|yaml) (?:parse|syntax|decode) ?error|"
            "malformed|"
            "unexpected (?:token|character|char|end of|eof)|"
            "(?:could not|couldn.t|cannot|can.t|unable to|failed to) (?:be )?pars|"
            "pars(?:e|ing) error|"
            "invalid (?:ical|content line|xml|html|csv|yaml)|"
            "not well-formed|"
            "unterminated string|"
            "extra data|"
            "invalid control character|"
            "found no components|"
            "line contains nul|"
            "codec can.t decode"
        ),
    ),
    (
        "duplicate_or_constraint",
        ErrorCategory.DATA_INTEGRITY,
        (
            "duplicate|"
            "unique constraint|"
            "integrity|"
            "already exists|"
            "violates (?:\\w+ ){0,3}constraint|"
            "constraint failed"
        ),
    ),
    (
        "coordinates",
        ErrorCategory.GEOCODING,
        (
            "latitude|"
            "longitude|"
            "\\blat\\b|"
            "\\bl(?:ng|on)\\b|"
            "coordinate|"
            "geocod|"
            "address (?:not found|could not be resolved|unresolvable)"
        ),
    ),
    (
        "venue",
        ErrorCategory.VENUE,
        "venue",
    ),
    (
        "performer",
        ErrorCategory.PERFORMER,
        ("performer|artist|line-?up"),
    ),
    (
        "event_category",
        ErrorCategory.CATEGORY,
        ("\\bcategor(?:y|ies)\\b|\\bgenres?\\b"),
    ),
    (
        "implausible_values",
        ErrorCategory.DATA_QUALITY,
        (
            "ends? before|"
            "end (?:date |time )?(?:is )?before|"
            "before (?:its |the )?start|"
            "in the past|"
            "too far in the (?:past|future)|"
            "implausible"
        ),
    ),
    (
        "not_ready",
        ErrorCategory.DEPENDENCY,
        (
            "not (?:yet )?ready|"
            "upstream|"
            "dependenc|"
            "waiting for|"
            "not (?:yet )?materiali[sz]ed|"
            "no such table"
        ),
    ),
    (
        "invalid_or_missing_field",
        ErrorCategory.VALIDATION,
        (
            "missing|"
            "required|"
            "invalid|"
            "must (?:be|have|not)|"
            "not a valid|"
            "cannot be (?:empty|blank|null)|"
            "wrong (?:\\w+ )?format|"
            "out of range|"
            "expected .{0,40}, got|"
            "unknown time ?zone"
        ),
    ),
)
