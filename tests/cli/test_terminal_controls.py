"""Text from the store (an email, a coupon code in a note, an error message) reaches the admin's
terminal through the CLI's tables, its error line and the log: its control characters are shown
escaped, never sent to the terminal as they are. An email such as `ann\\x1b]52;c;...\\x07@x` was
printed raw by `loyalty report top` and `loyalty balances`: escape sequences the terminal runs
(clear the screen, retitle the window, write the clipboard, hide the rest of a line)."""

from __future__ import annotations

import io
import logging
import logging.config
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses
from sqlalchemy import Engine

from ledger.customers import account_customer, get_or_create_store
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind as K
from ledger.session import session_scope
from loyalty.cli import main
from loyalty.log import configure_logging
from tests.cli.test_cli import closed_port, ledger_config
from tests.conftest import TEST_STORE_URL

#: Clear the screen, set the window's title (OSC ... BEL), an 8-bit CSI, a carriage return.
CONTROLS = ("\x1b", "\x07", "\x9b", "\r")
EMAIL = "ann\x1b[2j\x1b]0;owned\x07\x9b31m\r@example.com"


def _ledger(engine: Engine) -> None:
    with session_scope(engine) as session:
        store = get_or_create_store(session, "https://shop.example.com")
        ann = account_customer(session, store.id, 7, EMAIL)
        session.flush()
        entry = NewEntry(ann.id, 100, K.PURCHASE, "order:1", "order:1#1",
                         datetime(2024, 1, 5, tzinfo=UTC), note="coupon used (\x1b[8mHIDDEN)")  # fmt: skip
        append_entries(session, store.id, [entry], now=datetime(2024, 4, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "command",
    [["report", "top"], ["report", "history"], ["balances"]],
    ids=lambda c: "-".join(c),
)
def test_store_text_in_a_table_reaches_the_terminal_with_its_controls_escaped(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    _ledger(engine)

    assert main(["--config", ledger_config(tmp_path, db_url), *command]) == 0

    out = capsys.readouterr().out
    assert not [c for c in CONTROLS if c in out], repr(out)
    assert "ann\\x1b[2j\\x1b]0;owned\\x07\\x9b31m\\x0d@example.com" in out  # shown, not run


def test_a_store_error_reaches_stderr_with_its_controls_escaped(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = {"code": "forbidden", "message": "no\x1b]0;owned\x07 way", "data": {"status": 403}}
    with responses.RequestsMock() as mock:
        mock.add(
            responses.GET, f"{TEST_STORE_URL}/wp-json/wc/v3/customers", json=refusal, status=403
        )
        code = main(["--config", ledger_config(tmp_path, db_url), "adjust", "--customer", "42",
                     "--points", "5", "--reason", "goodwill"])  # fmt: skip

    err = capsys.readouterr().err
    assert code == 1
    assert "no\\x1b]0;owned\\x07 way" in err, err
    assert not [c for c in CONTROLS if c in err], repr(err)


def test_a_log_line_carries_no_terminal_control() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    logging.getLogger("loyalty.test").warning("customer %s left", EMAIL)

    line = stream.getvalue()
    assert not [c for c in CONTROLS if c in line], repr(line)
    assert "ann\\x1b[2j" in line


def test_the_dashboard_servers_own_log_is_redacted_and_escaped(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's log (a request that raised prints its traceback there) went through uvicorn's
    own handler, without the redaction and the escaping every other log line has."""
    import uvicorn

    def serve(self: uvicorn.Server, sockets: object = None) -> None:  # instead of serving
        self.started = True
        logging.getLogger("uvicorn.error").error(
            "request failed: %s for %s", "cs_cli_test_secret", EMAIL
        )

    monkeypatch.setattr(uvicorn.Server, "run", serve)
    # As an earlier server in this process left them (its own handlers, not propagating)
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    config = ledger_config(tmp_path, db_url)
    assert main(["--config", config, "db", "upgrade"]) == 0
    assert (
        main(["--config", config, "dashboard", "--host", "127.0.0.1", "--port", str(closed_port())])
        == 0
    )

    err = capsys.readouterr().err
    assert "request failed" in err
    assert "cs_cli_test_secret" not in err
    assert not [c for c in CONTROLS if c in err], repr(err)
