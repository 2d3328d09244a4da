from pathlib import Path

import pytest

from web.config import ConfigError, Settings


def test_defaults_are_the_embedded_sqlite_database() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite+aiosqlite:///var/signroom.db"
    assert settings.invite_ttl_hours == 72
    assert settings.blob_dir == Path("var/blobs")


def test_environment_overrides_file_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "signroom.toml"
    config.write_text('port = 9000\ninvite_ttl_hours = 24\npublic_url = "https://bank.example"\n')
    settings = Settings.from_env(
        {
            "SIGNROOM_CONFIG": str(config),
            "SIGNROOM_PORT": "9100",
            "SIGNROOM_TRUST_FORWARDED_PROTO": "yes",
        }
    )
    assert settings.port == 9100
    assert settings.invite_ttl_hours == 24
    assert settings.public_origin == "https://bank.example"
    assert settings.trust_forwarded_proto is True


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"SIGNROOM_PORT": "eighty"}, "SIGNROOM_PORT"),
        ({"SIGNROOM_PORT": "70000"}, "SIGNROOM_PORT"),
        ({"SIGNROOM_INVITE_TTL_HOURS": "0"}, "INVITE_TTL_HOURS"),
        ({"SIGNROOM_DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"SIGNROOM_PUBLIC_URL": "ftp://x"}, "PUBLIC_URL"),
        ({"SIGNROOM_TRUST_FORWARDED_PROTO": "maybe"}, "TRUST_FORWARDED_PROTO"),
        ({"SIGNROOM_CONFIG": "/nonexistent/signroom.toml"}, "SIGNROOM_CONFIG"),
        ({"SIGNROOM_DISPLAY_TIMEZONE": "Mars/Olympus_Mons"}, "DISPLAY_TIMEZONE"),
        ({"SIGNROOM_EVENT_LOOP": "trio"}, "EVENT_LOOP"),
    ],
)
def test_bad_settings_are_named(environ: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env(environ)


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "signroom.toml"
    config.write_text("prot = 9000\n")
    with pytest.raises(ConfigError, match="prot"):
        Settings.from_env({"SIGNROOM_CONFIG": str(config)})
