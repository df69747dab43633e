"""Acceptance: the consumer key, consumer secret and application password never show.

Not in repr/str of the config, not in `loyalty check`, not in any config error, not in log output
(message or args), not in the output of a failing command; whether they came from the file or
from the environment.
"""

from __future__ import annotations

import base64
import io
import logging
import socket
from pathlib import Path

import pytest

from loyalty.cli import main
from loyalty.config import load_config
from loyalty.errors import ConfigError
from loyalty.log import configure_logging

FILE_SECRETS = {
    "key": "ck_FILEKEY_7f3a9c",
    "secret": "cs_FILESECRET_b2e4d1",
    "password": "FiLe 1234 abcd wxyz",
}
ENV_SECRETS = {
    "key": "ck_ENVKEY_91c2aa",
    "secret": "cs_ENVSECRET_55d0ef",
    "password": "EnVp aaaa bbbb cccc",
}
ENV_NAMES = {
    "key": "LOYALTY_STORE_CONSUMER_KEY",
    "secret": "LOYALTY_STORE_CONSUMER_SECRET",
    "password": "LOYALTY_WORDPRESS_APP_PASSWORD",
}


def config_text(secrets: dict[str, str], *, url: str = "https://shop.example.com") -> str:
    return f"""
[store]
url = "{url}"
consumer_key = "{secrets["key"]}"
consumer_secret = "{secrets["secret"]}"
max_retry_seconds = 0
allow_insecure_http = true

[wordpress]
username = "admin"
app_password = "{secrets["password"]}"
"""


def forms(secrets: dict[str, str]) -> list[str]:
    """Each secret as written, and the Basic-auth and no-spaces forms that could travel."""
    values = list(secrets.values())
    values.append(secrets["password"].replace(" ", ""))
    basic = f"{secrets['key']}:{secrets['secret']}"
    values.append(base64.b64encode(basic.encode()).decode())
    return values


def assert_hidden(text: str, secrets: dict[str, str]) -> None:
    for value in forms(secrets):
        assert value not in text


@pytest.fixture(params=["file", "env"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dict[str, str]]:
    """A config file holding secrets, or an environment overriding its (other) secrets.

    Yields the file and the secrets in effect; both sets are asserted absent in every output.
    """
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "loyalty.toml"
    path.write_text(config_text(FILE_SECRETS), encoding="utf-8")
    if request.param == "env":
        for name, env_name in ENV_NAMES.items():
            monkeypatch.setenv(env_name, ENV_SECRETS[name])
        return path, ENV_SECRETS
    for env_name in ENV_NAMES.values():
        monkeypatch.delenv(env_name, raising=False)
    return path, FILE_SECRETS


def every_secret() -> dict[str, str]:
    return {
        **{f"f{k}": v for k, v in FILE_SECRETS.items()},
        **{f"e{k}": v for k, v in ENV_SECRETS.items()},
    }


def test_secrets_are_in_effect(setup: tuple[Path, dict[str, str]]) -> None:
    path, secrets = setup
    config = load_config(path)
    assert config.require_store().consumer_secret.reveal() == secrets["secret"]
    assert config.wordpress.app_password.reveal() == secrets["password"]


def test_repr_and_str_of_the_config_hide_them(setup: tuple[Path, dict[str, str]]) -> None:
    path, _ = setup
    config = load_config(path)
    for text in (repr(config), str(config), repr(config.store), str(config.wordpress)):
        for value in every_secret().values():
            assert value not in text


def test_check_output_hides_them(
    setup: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = setup
    assert main(["--config", str(path), "check"]) == 0
    captured = capsys.readouterr()
    assert "consumer key ***, consumer secret ***" in captured.out
    assert "application password ***" in captured.out
    for value in every_secret().values():
        assert value not in captured.out + captured.err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda t: t.replace("max_retry_seconds", "per_page = 500\nmax_retry_seconds"),
            "store.per_page",
        ),
        (lambda t: t.replace("max_retry_seconds", "max_retry_secs"), "store.max_retry_secs"),
        (lambda t: t.replace('username = "admin"', "username = 5"), "wordpress.username"),
        (lambda t: t.replace("app_password = ", "app_pasword = "), "wordpress.app_pasword"),
        (
            lambda t: t.replace("consumer_secret = ", "consumer_secret = 7 #"),
            "store.consumer_secret",
        ),
        (lambda t: t.replace('consumer_key = "', 'consumer_key = "\\q'), "not valid TOML"),
        (lambda t: t.replace('app_password = "', 'app_password = """'), "not valid TOML"),
        (lambda t: t.replace("https://", "http://user:pw@"), "store.url"),
    ],
)
def test_config_errors_in_the_same_file_hide_them(
    setup: tuple[Path, dict[str, str]], change: object, expected: str
) -> None:
    path, _ = setup
    assert callable(change)
    path.write_text(change(path.read_text()), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value)
    for value in every_secret().values():
        assert value not in str(caught.value)


def test_log_records_carrying_them_are_redacted(setup: tuple[Path, dict[str, str]]) -> None:
    path, secrets = setup
    load_config(path)  # registers the secrets with the redactor
    stream = io.StringIO()
    configure_logging(verbose=True, stream=stream)
    log = logging.getLogger("loyalty.test")
    basic = base64.b64encode(f"{secrets['key']}:{secrets['secret']}".encode()).decode()
    log.info("connecting with %s / %s", secrets["key"], secrets["secret"])
    log.debug("headers: %r", {"Authorization": f"Basic {basic}"})
    log.warning(f"wordpress login admin:{secrets['password']} failed")
    log.error("GET /orders?consumer_key=%s&consumer_secret=%s", secrets["key"], secrets["secret"])
    output = stream.getvalue()
    assert output.count("***") >= 6
    assert_hidden(output, secrets)


def test_failing_command_output_hides_them(
    setup: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A sync against a closed port, over http so the OAuth parameters sit in the URL, with -v."""
    path, _ = setup
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = config_text(FILE_SECRETS, url=f"http://127.0.0.1:{port}")
    path.write_text(text + f'\n[database]\nurl = "sqlite:///{path.parent / "l.db"}"\n')
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    assert main(["--config", str(path), "-v", "sync"]) == 1
    captured = capsys.readouterr()
    assert "loyalty: error: " in captured.err
    for value in every_secret().values():
        assert value not in captured.out + captured.err
