"""How failtrack's normalizer answers Sentry's own parameterization test cases.

    .venv/bin/python bench/bench_sentry_cases.py PATH [--show]

PATH is Sentry's `tests/sentry/grouping/test_parameterization.py` (getsentry/sentry), read
from outside this repository; without it the benchmark says so and exits. Its
`standard_cases` are (name, input, expected); a case passes when, as in Sentry's own test,
the input alone, after `prefix `, before ` suffix` and between both all come out as
expected. Placeholder names differ between the two projects (`<date>` / `<datetime>`), so
any `<name>` counts as a placeholder: the same constant text with placeholders in the same
places. Scored twice: strictly, and with failtrack's URL form (`scheme://host/<path>`, the
host kept on purpose) taken as Sentry's `<url>`. The baseline, in the same run, is one
`re.sub` of digit runs to `<int>`: what parameterizing without rules gets right.
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Callable
from pathlib import Path

from failtrack_pipeline.base.normalize import normalize_message

Case = tuple[str, str, str]

_PLACEHOLDER = re.compile(r"<[a-z_0-9]+>")
_URL_FORM = re.compile(r"\b[a-z][\w+.\-]*://\S+?/<path>")
_DIGITS = re.compile(r"\d+")


def standard_cases(path: Path) -> list[Case]:
    """`standard_cases` from Sentry's test module, evaluated without running the module."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "standard_cases":
            # Literal tuples, plus `"b0" * 64`: no names, no calls.
            code = compile(ast.Expression(node.value), str(path), "eval")
            cases = eval(code, {"__builtins__": {}})
            return [tuple(case) for case in cases]
    raise SystemExit(f"{path}: no `standard_cases` list")


def passes(parameterize: Callable[[str], str], case: Case, *, url_form: bool) -> bool:
    """Sentry's four forms of the case, compared with any placeholder as one."""
    _, text, expected = case
    forms = [("", ""), ("prefix ", ""), ("", " suffix"), ("prefix ", " suffix")]
    for before, after in forms:
        got = parameterize(f"{before}{text}{after}")
        if url_form:
            got = _URL_FORM.sub("<url>", got)
        if _PLACEHOLDER.sub("<>", got) != _PLACEHOLDER.sub("<>", f"{before}{expected}{after}"):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, nargs="?", help="Sentry's test_parameterization.py")
    parser.add_argument("--show", action="store_true", help="print each case missed")
    args = parser.parse_args()
    if args.path is None or not args.path.is_file():
        print(f"skipped: Sentry's test_parameterization.py not given or not found ({args.path})")
        return
    cases = standard_cases(args.path)

    def digits_only(text: str) -> str:
        return _DIGITS.sub("<int>", text)

    runs = (("failtrack", normalize_message), ("baseline, digits only", digits_only))
    for label, parameterize in runs:
        strict = [case for case in cases if passes(parameterize, case, url_form=False)]
        lenient = [case for case in cases if passes(parameterize, case, url_form=True)]
        print(
            f"{label:22} {len(strict):3} / {len(cases)} strictly, "
            f"{len(lenient):3} / {len(cases)} with the URL form"
        )
        if args.show and parameterize is normalize_message:
            for name, text, expected in cases:
                if (name, text, expected) not in lenient:
                    got = normalize_message(text)
                    print(f"  missed {name}: {text!r} -> {got!r}, Sentry {expected!r}")


if __name__ == "__main__":
    main()
