"""The `loyalty` command line: help that teaches, exit codes, check, and the ledger commands."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from sqlalchemy import text

import loyalty.cli
from ledger.session import create_engine_for
from loyalty.cli import main
from tests.conftest import StoreAccounts

REPO = Path(__file__).resolve().parents[2]
LOYALTY = Path(sys.executable).with_name("loyalty")
COMMANDS = ["check", "db", "sync", "verify", "balances", "adjust", "sandbox"]
STORE = """
[store]
url = "https://shop.example.com"
consumer_key = "ck_cli_test_key"
consumer_secret = "cs_cli_test_secret"
"""

HUGE = "99999999999999999999"  # beyond a BIGINT's largest
CUSTOMER_ID = f"expected a WooCommerce customer id from 1 to {2**63 - 1}"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "loyalty.toml"
    path.write_text(text, encoding="utf-8")
    return path


def ledger_config(tmp_path: Path, db_url: str) -> str:
    return str(write_config(tmp_path, STORE + f'[database]\nurl = "{db_url}"\n'))


def closed_port() -> int:
    """A local port nothing listens on: bound, read, released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run in an empty directory with no LOYALTY_* variables, whatever the developer has set."""
    monkeypatch.chdir(tmp_path)
    for name in ("LOYALTY_CONFIG", "LOYALTY_DATABASE_URL", "LOYALTY_STORE_CONSUMER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LOYALTY_STORE_CONSUMER_SECRET", raising=False)
    monkeypatch.delenv("LOYALTY_WORDPRESS_APP_PASSWORD", raising=False)


class TestHelp:
    def test_help_lists_every_command_with_one_line(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["--help"]) == 0
        out = capsys.readouterr().out
        for command in COMMANDS:
            assert f"\n    {command} " in out, command
        assert "exit codes: 0 success, 1 failed, 2 bad usage or configuration" in out

    @pytest.mark.parametrize("command", ["check", "db", "sync", "verify", "balances", "adjust"])
    def test_each_command_help_describes_it_with_examples(
        self, command: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: loyalty {command}")
        assert f"examples:\n  loyalty {command}" in out

    def test_no_command_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main([]) == 2
        assert "the following arguments are required: COMMAND" in capsys.readouterr().err

    def test_unknown_command_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["frobnicate"]) == 2
        assert "invalid choice: 'frobnicate'" in capsys.readouterr().err

    def test_console_script_prints_help(self) -> None:
        result = subprocess.run(
            [str(LOYALTY), "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0
        assert "usage: loyalty" in result.stdout
        assert "adjust" in result.stdout

    def test_the_program_exits_with_main_s_code_frozen_its_output_flushed(
        self, tmp_path: Path
    ) -> None:
        """`run` (the console script and `python -m loyalty.cli`): main's exit code, and the
        interpreter's last collections skip what was alive (`gc.freeze`) after it."""
        path = write_config(tmp_path, STORE.replace("consumer_secret", "consumer_secert"))
        probe = (
            "import atexit, gc, sys\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
            "import loyalty.cli\n"
            f"sys.argv = ['loyalty', 'check', '--config', {str(path)!r}]\n"
            "loyalty.cli.run()\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 2
        assert "store.consumer_secert: unknown key" in result.stderr
        assert result.stdout == "frozen at exit: True\n"

    def test_a_sync_imports_neither_alembic_nor_the_web_pages(self) -> None:
        """`loyalty sync` starts by importing the CLI and the sync: the migrations' machinery and
        the HTML pages' templates are for other commands, imported when they run."""
        probe = (
            "import sys\n"
            "import loyalty.cli, sync.service\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako', 'jinja2'}))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
        )
        assert done.stdout == "[]\n"

    def test_a_reader_that_goes_away_ends_the_output_quietly(self) -> None:
        """`loyalty balances --json | head -1` printed "internal error: BrokenPipeError" (found by
        a review, 3 Dec): the pipe's reader closes before the command writes."""
        command = [sys.executable, "-m", "loyalty.cli"]
        command += ["--config", str(REPO / "config.example.toml"), "check"]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout is not None
        assert child.stderr is not None
        child.stdout.close()
        err = child.stderr.read().decode()
        child.stderr.close()
        assert child.wait(timeout=60) == 1
        assert err == ""

    def test_the_console_script_is_run(self) -> None:
        (script,) = entry_points(group="console_scripts", name="loyalty")
        assert script.value == "loyalty.cli:run"


class TestCheck:
    def test_example_config_is_summarised(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["--config", str(REPO / "config.example.toml"), "check"]) == 0
        out = capsys.readouterr().out
        assert "store:      https://shop.example.com (ledger key shop.example.com)" in out
        assert "consumer key ***, consumer secret ***" in out
        assert "application password (not set)" in out
        assert "database:   sqlite:///loyalty.db" in out
        assert "launch: from 2023-01-01, 0.5 per unit" in out
        assert "2024-06: from 2024-06-01, 1 per unit" in out
        assert "meta keys loyalty_points (balance), loyalty_points_lifetime (lifetime)" in out

    def test_comments_on_without_wordpress_credentials_is_one_clear_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        text = STORE + "[rules.comment]\nenabled = true\n[rules.review]\nenabled = true\n"
        assert main(["--config", str(write_config(tmp_path, text)), "check"]) == 0
        out = capsys.readouterr().out
        said = [line.strip() for line in out.splitlines() if "[wordpress]" in line]
        assert said == [
            "comments: off: [rules.comment] is enabled but [wordpress] username and app_password"
            " are not both set (blog comments are read with a WordPress Application Password)"
        ]
        assert "reviews: 10 points, once per product, verified or not" in out
        with_credentials = text + '[wordpress]\nusername = "editor"\napp_password = "abcd efgh"\n'
        assert main(["--config", str(write_config(tmp_path, with_credentials)), "check"]) == 0
        out = capsys.readouterr().out
        assert "comments: 5 points, once per post, replies count" in out
        assert "comments: off" not in out
        assert "abcd efgh" not in out

    def test_summary_masks_secrets_and_the_database_password(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        text = STORE + '[database]\nurl = "postgresql+psycopg://loyalty:pgpass9911@db/loyalty"\n'
        assert main(["--config", str(write_config(tmp_path, text)), "check"]) == 0
        out = capsys.readouterr().out
        assert "postgresql+psycopg://loyalty:***@db/loyalty" in out
        for secret in ("ck_cli_test_key", "cs_cli_test_secret", "pgpass9911"):
            assert secret not in out

    def test_misspelt_key_exits_2_naming_the_key_path_without_traceback(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = write_config(tmp_path, STORE + "[rules.purchase]\npoints_per_unti = 2\n")
        assert main(["--config", str(path), "check"]) == 2
        captured = capsys.readouterr()
        assert captured.err == (
            f"loyalty: error: {path}: rules.purchase.points_per_unti: unknown key;"
            ' did you mean "points_per_unit"?\n'
        )
        assert "Traceback" not in captured.out + captured.err

    def test_misspelt_key_through_the_console_script(self, tmp_path: Path) -> None:
        path = write_config(tmp_path, STORE.replace("consumer_secret", "consumer_secert"))
        result = subprocess.run(
            [str(LOYALTY), "check", "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert (
            'store.consumer_secert: unknown key; did you mean "consumer_secret"?' in result.stderr
        )
        assert "Traceback" not in result.stderr

    def test_toml_syntax_error_exits_2_with_the_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = write_config(tmp_path, "[store\n")
        assert main(["check", "--config", str(path)]) == 2
        assert "not valid TOML" in capsys.readouterr().err

    def test_config_comes_from_the_environment_variable(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("LOYALTY_CONFIG", str(write_config(tmp_path, STORE)))
        assert main(["check"]) == 0
        assert "store:      https://shop.example.com" in capsys.readouterr().out

    def test_without_any_config_the_defaults_are_shown(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["check"]) == 0
        out = capsys.readouterr().out
        assert "config:     (no file: defaults)" in out
        assert "store:      (not configured" in out


class TestErrors:
    def test_unexpected_exception_is_one_line_with_a_hint(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        def broken(config: object) -> str:
            raise RuntimeError("boom")

        monkeypatch.setattr(loyalty.cli, "render_summary", broken)
        assert main(["check"]) == 1
        err = capsys.readouterr().err
        assert (
            err
            == "loyalty: error: internal error: RuntimeError: boom (rerun with -v for the traceback)\n"
        )

    def test_verbose_shows_the_traceback_of_an_unexpected_exception(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        def broken(config: object) -> str:
            raise RuntimeError("boom")

        monkeypatch.setattr(loyalty.cli, "render_summary", broken)
        assert main(["-v", "check"]) == 1
        err = capsys.readouterr().err
        assert "Traceback" in err
        assert err.endswith("loyalty: error: internal error: RuntimeError: boom\n")

    def test_commands_needing_a_store_say_how_to_configure_one(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["adjust", "--customer", "1", "--points", "5", "--reason", "x"]) == 2
        assert "no [store] configured: pass --config FILE" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("points", "reason", "customer", "message"),
        [
            ("0", "goodwill", "7", "argument --points: expected a non-zero whole number of points, got 0"),
            ("ten", "goodwill", "7", "argument --points: expected a whole number, got 'ten'"),
            ("5", "   ", "7", "argument --reason: expected a non-empty reason"),
            ("5", "goodwill", "0", f"argument --customer: {CUSTOMER_ID}, got 0"),
            ("5", "goodwill", HUGE, f"argument --customer: {CUSTOMER_ID}, got {HUGE}"),
        ],
    )  # fmt: skip
    def test_adjust_arguments_are_validated_as_usage_errors(
        self,
        points: str,
        reason: str,
        customer: str,
        message: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        argv = ["adjust", "--customer", customer, "--points", points, "--reason", reason]
        assert main(argv) == 2
        assert message in capsys.readouterr().err


class TestLedgerCommands:
    def test_db_upgrade_migrates_an_empty_database_and_current_reports_it(
        self, raw_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        config = ledger_config(tmp_path, raw_db_url)
        assert main(["--config", config, "db", "current"]) == 0
        assert "current: (empty: no ledger schema)  (behind: run `loyalty db upgrade`)" in (
            capsys.readouterr().out
        )
        assert main(["--config", config, "db", "upgrade"]) == 0
        assert ": at revision " in capsys.readouterr().out
        assert main(["--config", config, "db", "upgrade"]) == 0  # twice is harmless
        assert main(["--config", config, "db", "current"]) == 0
        current, head = capsys.readouterr().out.split("\n")[-3:-1]
        assert current.split()[-1] == head.split()[-1]

    def test_ledger_commands_refuse_a_database_behind_the_code(
        self, raw_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["--config", ledger_config(tmp_path, raw_db_url), "verify"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("loyalty: error: the database at ")
        assert "run `loyalty db upgrade`" in err

    def test_unreachable_database_is_one_clear_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = f"postgresql+psycopg://loyalty:dbpw7788@127.0.0.1:{closed_port()}/loyalty"
        assert main(["--config", ledger_config(tmp_path, url), "balances"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(
            "loyalty: error: cannot use the database postgresql+psycopg://loyalty:***@"
        )
        assert len(err.splitlines()) == 1
        assert "dbpw7788" not in err

    def test_adjust_then_balances_and_verify(
        self,
        db_url: str,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        store_accounts: StoreAccounts,
    ) -> None:
        config = ledger_config(tmp_path, db_url)
        assert main(["--config", config, "verify"]) == 0
        assert capsys.readouterr().out == (
            "verified 0 customers, 0 entries: balances equal their entries, and so do the report rollups\n"
        )
        adjust = ["--config", config, "adjust", "--customer", "42", "--reason", "goodwill"]
        assert main([*adjust, "--points", "100"]) == 0
        assert main([*adjust, "--points", "-30"]) == 0
        assert (
            main(["--config", config, "adjust", "--customer", "7", "--points=5", "--reason=x"]) == 0
        )
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("adjusted customer 42 by +100 points (entry ")
        assert out[1].startswith("adjusted customer 42 by -30 points (entry ")

        assert main(["--config", config, "balances"]) == 0
        assert capsys.readouterr().out.splitlines() == [
            "customer  email  balance  lifetime",
            "42                    70         0",
            "7                      5         0",
        ]
        assert main(["--config", config, "balances", "--json"]) == 0
        assert capsys.readouterr().out.replace(" ", "").replace("\n", "") == (
            '[{"customer_id":42,"email":null,"balance":70,"lifetime":0},'
            '{"customer_id":7,"email":null,"balance":5,"lifetime":0}]'
        )
        assert main(["--config", config, "verify"]) == 0
        assert capsys.readouterr().out == (
            "verified 2 customers, 3 entries: balances equal their entries, and so do the report rollups\n"
        )
        # The store was asked about each account the ledger did not know yet, once.
        assert store_accounts.asked == [[42], [7]]

    def test_verify_lists_a_cached_balance_that_differs_from_its_entries(
        self,
        db_url: str,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        store_accounts: StoreAccounts,
    ) -> None:
        config = ledger_config(tmp_path, db_url)
        assert (
            main(
                ["--config", config, "adjust", "--customer", "9", "--points", "10", "--reason", "x"]
            )
            == 0
        )
        engine = create_engine_for(db_url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE balances SET balance = balance + 1"))
        engine.dispose()
        capsys.readouterr()

        assert main(["--config", config, "verify"]) == 1
        captured = capsys.readouterr()
        (line,) = captured.out.splitlines()
        assert (
            "(wc customer 9): balance cached 11, entries 10; lifetime cached 0, entries 0" in line
        )
        assert captured.err == (
            "loyalty: error: cached points differ from the sum of the entries for 1 of 1 customer"
            " (1 entry checked)\n"
        )

    def test_balances_of_an_empty_ledger(
        self, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        config = ledger_config(tmp_path, db_url)
        assert main(["--config", config, "balances"]) == 0
        assert capsys.readouterr().out == "no balances yet\n"
        assert main(["--config", config, "balances", "--json"]) == 0
        assert capsys.readouterr().out == "[]\n"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sync_against_an_unreachable_store_fails_in_one_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = STORE.replace("https://shop.example.com", f"https://127.0.0.1:{closed_port()}")
    path = write_config(tmp_path, text + f'max_retry_seconds = 0\n[database]\nurl = "{db_url}"\n')
    assert main(["--config", str(path), "sync"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(
        "loyalty: error: GET /wp-json/wc/v3/customers: store unavailable"
    )
    assert "Traceback" not in err


def test_sandbox_arguments_reach_the_sandbox_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sandbox.cli", reason="the sandbox command line has not landed yet")
    assert main(["sandbox", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage:" in out
    assert "exit codes: 0 success, 1 failed" not in out  # the sandbox's own help, not loyalty's


def test_the_sandbox_and_the_dashboard_say_when_their_port_is_taken_or_state_unreadable(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sandbox said "internal error: OSError", the dashboard announced itself and then exited
    with status 3, and an unreadable --state file exited 2 without a word (found by a review,
    3 Dec)."""
    bad = tmp_path / "shop.json"
    bad.write_text("{bad", encoding="utf-8")
    config = ledger_config(tmp_path, db_url)
    assert main(["--config", config, "db", "upgrade"]) == 0
    capsys.readouterr()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        codes = [
            main(["sandbox", "--port", port, "--orders", "1", "--customers", "1"]),
            main(["--config", config, "dashboard", "--host", "127.0.0.1", "--port", port]),
        ]
    codes.append(main(["sandbox", "--state", str(bad)]))

    lines = capsys.readouterr().err.splitlines()
    assert codes == [1, 1, 1]
    assert [line.split(": ", 2)[1] for line in lines] == ["error"] * 3
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in lines[0]
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in lines[1]
    assert f"{bad}: cannot load the sandbox state" in lines[2]


class TestResync:
    def test_resync_signups_with_signup_points_off_says_so_and_exits_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = write_config(tmp_path, STORE)
        assert main(["--config", str(path), "resync", "--signups", "--since", "2024-01-01"]) == 2
        assert capsys.readouterr().err.strip() == (
            "loyalty: error: signup points are off ([rules.signup] points = 0):"
            " set them first, then resync"
        )

    @pytest.mark.parametrize(
        ("since", "problem"),
        [
            ("last week", "expected a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM:SS (UTC)"),
            ("2999-01-01", "2999-01-01 is in the future"),
        ],
    )
    def test_resync_refuses_a_since_that_is_not_a_past_date(
        self, since: str, problem: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["resync", "--signups", "--since", since]) == 2
        assert problem in capsys.readouterr().err

    def test_resync_needs_a_source_and_a_date(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["resync", "--since", "2024-01-01"]) == 2
        assert "one of the arguments --signups --recalculate is required" in capsys.readouterr().err
