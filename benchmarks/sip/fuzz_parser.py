"""The long run of the parser properties (tests/sip/test_properties.py runs them bounded in CI).

Run explicitly:  .venv/bin/python -m pytest benchmarks/sip/fuzz_parser.py -p no:cacheprovider
Set SIP_FUZZ_EXAMPLES to change the number of examples per property (default 5000).
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sip import test_properties as properties
from tests.sip.strategies import GeneratedMessage, mutated_messages, sip_messages

LONG = settings(max_examples=int(os.environ.get("SIP_FUZZ_EXAMPLES", "5000")), deadline=None,
                suppress_health_check=list(HealthCheck))


@LONG
@given(sip_messages())
def test_long_unedited_round_trip(gen: GeneratedMessage) -> None:
    properties.test_unedited_message_round_trips_and_reads_back_what_was_written.hypothesis.inner_test(gen)


@LONG
@given(sip_messages(), st.data())
def test_long_edits(gen: GeneratedMessage, data: st.DataObject) -> None:
    properties.test_edits_show_up_exactly_and_nothing_else_changes.hypothesis.inner_test(gen, data)


@LONG
@given(st.binary(max_size=2000))
def test_long_arbitrary_bytes(data: bytes) -> None:
    properties.exercise(data)


@LONG
@given(mutated_messages())
def test_long_mutated_messages(data: bytes) -> None:
    properties.exercise(data)
