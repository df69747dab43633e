"""[rules.review], [rules.comment] and [sync] rescan_days: the defaults of the issue's tables, every
key read, bad values refused naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty.config import load_config
from loyalty.errors import ConfigError
from rules.comment import CommentRules
from rules.review import ReviewRules


def test_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    config = load_config(None, env={})
    assert config.rules.review == ReviewRules(
        enabled=False, points=10, verified_only=False, min_length=0, max_per_day=0
    )
    assert config.rules.comment == CommentRules(
        enabled=False, points=5, max_per_day=3, min_length=0, replies=True
    )
    assert config.sync.rescan_days == 7


def test_every_key_is_read(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            "[rules.review]\nenabled = true\npoints = 12\nverified_only = true\n"
            "min_length = 20\nmax_per_day = 2\n"
            "[rules.comment]\nenabled = true\npoints = 3\nmax_per_day = 0\nmin_length = 5\n"
            "replies = false\n[sync]\nrescan_days = 30\n",
        ),
        env={},
    )
    assert config.rules.review == ReviewRules(
        enabled=True, points=12, verified_only=True, min_length=20, max_per_day=2
    )
    assert config.rules.comment == CommentRules(
        enabled=True, points=3, max_per_day=0, min_length=5, replies=False
    )
    assert config.sync.rescan_days == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules.review]\npoints = -1", "rules.review.points: expected an integer >= 0, got -1"),
        ("[rules.review]\nverified_only = 1", "rules.review.verified_only: expected true or false"),
        ("[rules.review]\nmin_length = -2", "rules.review.min_length: expected an integer >= 0"),
        (
            "[rules.comment]\nmax_per_day = -1",
            "rules.comment.max_per_day: expected an integer >= 0",
        ),
        ('[rules.comment]\nreplies = "no"', "rules.comment.replies: expected true or false"),
        ("[sync]\nrescan_days = -1", "sync.rescan_days: expected an integer >= 0, got -1"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), env={})
    assert message in str(caught.value)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "loyalty.toml"
    path.write_text(text, encoding="utf-8")
    return path
