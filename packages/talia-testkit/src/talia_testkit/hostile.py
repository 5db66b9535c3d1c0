"""What the apps' property-based tests throw at public inputs, and how many times."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings

# Text a form field or a frame can carry: any code point but lone surrogates, NUL included.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
# Values that break parsers and columns: NUL bytes, numbers no parser takes, overlong text.
awkward = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "1e400",
        "-1",
        "NaN",
        "9" * 5000,
        "é" * 300,
        "x" * 300,
        "x" * 17_000,
    ]
)
field_value = st.one_of(any_text, awkward)

# One running app serves every example of a test; each example's rows are its own.
hostile = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
