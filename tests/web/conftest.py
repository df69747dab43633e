"""The story ledger behind a dashboard app and a config, for the web tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger.session import session_scope
from loyalty.config import Config, DashboardConfig, load_config
from loyalty.secret import Secret
from tests.cli.test_cli import ledger_config
from tests.reports.ledger_story import Story, build

TOKEN = "t0ken-for-the-dashboard-tests"


@pytest.fixture
def story(engine: Engine) -> Story:
    with session_scope(engine) as session:
        return build(session)


@pytest.fixture
def config_file(db_url: str, tmp_path: Path) -> str:
    return ledger_config(tmp_path, db_url)


@pytest.fixture
def config(config_file: str) -> Config:
    return load_config(Path(config_file), env={})


@pytest.fixture
def admin_config(config: Config) -> Config:
    return replace(config, dashboard=DashboardConfig(admin_token=Secret(TOKEN)))
