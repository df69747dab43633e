"""Secrets never show themselves, and the log redactor scrubs them from every record."""

from __future__ import annotations

import copy
import io
import logging
import pickle
from collections.abc import Iterator

import pytest

from loyalty.config import Secret
from loyalty.log import RedactingFilter, configure_logging, redact, register_secret


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(stream=stream)
    yield stream
    configure_logging(stream=io.StringIO())  # detach from the captured stream


class TestSecret:
    def test_repr_and_str_hide_the_value(self) -> None:
        secret = Secret("cs_hidden_value")
        assert repr(secret) == str(secret) == f"{secret}" == "Secret('***')"
        assert "cs_hidden_value" not in repr([secret, {"k": secret}])

    def test_reveal_gives_the_value(self) -> None:
        assert Secret("cs_hidden_value").reveal() == "cs_hidden_value"

    def test_truthiness_is_whether_it_is_set(self) -> None:
        assert Secret("x")
        assert not Secret("")

    def test_equals_only_another_secret_with_the_same_value(self) -> None:
        assert Secret("abc") == Secret("abc")
        assert Secret("abc") != Secret("abd")
        assert Secret("abc") != "abc"
        assert hash(Secret("abc")) == hash(Secret("abc"))

    def test_cannot_be_pickled(self) -> None:
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(Secret("cs_hidden_value"))

    def test_copies_are_the_same_secret(self) -> None:
        secret = Secret("cs_hidden_value")
        assert copy.deepcopy(secret) is secret
        assert copy.copy(secret) is secret

    def test_wraps_only_strings(self) -> None:
        with pytest.raises(TypeError):
            Secret(123)  # type: ignore[arg-type]


class TestRedaction:
    def test_registered_secret_in_message_and_args_is_masked(self, log_stream: io.StringIO) -> None:
        register_secret("cs_log_secret_42")
        logging.getLogger("test").warning(
            "key %s and %r", "cs_log_secret_42", {"s": "cs_log_secret_42"}
        )
        logging.getLogger("test").warning("inline cs_log_secret_42")
        output = log_stream.getvalue()
        assert "cs_log_secret_42" not in output
        assert output.count("***") == 3

    def test_url_encoded_form_of_a_secret_is_masked(self) -> None:
        register_secret("pass word/42")
        assert redact("u=pass%20word%2F42&x=pass+word%2F42") == "u=***&x=***"

    def test_short_values_are_not_registered(self) -> None:
        register_secret("abc")
        assert redact("abc abcd") == "abc abcd"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "GET https://s.example/wp-json/wc/v3/orders?consumer_key=ck_1&consumer_secret=cs_2&page=2",
                "GET https://s.example/wp-json/wc/v3/orders?consumer_key=***&consumer_secret=***&page=2",
            ),
            (
                "http://s/x?oauth_consumer_key=ck_9&oauth_signature=abc%3D&oauth_nonce=1",
                "http://s/x?oauth_consumer_key=***&oauth_signature=***&oauth_nonce=1",
            ),
            ("Authorization: Basic Y2tfMTpjc18y", "Authorization: ***"),
            ("{'Authorization': 'Basic Y2tfMTpjc18y', 'Accept': '*/*'}", "{'Authorization': '***', 'Accept': '*/*'}"),
            ('{"consumer_secret": "cs_3", "page": 1}', '{"consumer_secret": "***", "page": 1}'),
        ],
    )  # fmt: skip
    def test_credentials_with_a_known_shape_are_masked_unregistered(
        self, text: str, expected: str
    ) -> None:
        assert redact(text) == expected

    def test_traceback_text_is_redacted(self, log_stream: io.StringIO) -> None:
        register_secret("cs_in_traceback_7")
        try:
            raise RuntimeError("failed GET ?consumer_secret=cs_in_traceback_7")
        except RuntimeError:
            logging.getLogger("test").exception("sync failed")
        output = log_stream.getvalue()
        assert "RuntimeError" in output
        assert "cs_in_traceback_7" not in output

    def test_filter_keeps_the_record_and_drops_args(self) -> None:
        register_secret("cs_filter_value")
        record = logging.LogRecord(
            "t", logging.INFO, __file__, 1, "v=%s", ("cs_filter_value",), None
        )
        assert RedactingFilter().filter(record)
        assert (record.msg, record.args) == ("v=***", None)


class TestConfigureLogging:
    def test_one_plain_line_with_time_level_and_logger(self, log_stream: io.StringIO) -> None:
        logging.getLogger("loyalty.sync").info("synced %d orders", 3)
        (line,) = log_stream.getvalue().splitlines()
        assert line.endswith(" INFO loyalty.sync: synced 3 orders")
        assert line[:4].isdigit()

    def test_debug_only_when_verbose(self) -> None:
        quiet, loud = io.StringIO(), io.StringIO()
        configure_logging(stream=quiet)
        logging.getLogger("test").debug("details")
        configure_logging(verbose=True, stream=loud)
        logging.getLogger("test").debug("details")
        configure_logging(stream=io.StringIO())
        assert quiet.getvalue() == ""
        assert "details" in loud.getvalue()

    def test_configuring_twice_does_not_duplicate_lines(self, log_stream: io.StringIO) -> None:
        configure_logging(stream=log_stream)
        logging.getLogger("test").warning("once")
        assert log_stream.getvalue().count("once") == 1
