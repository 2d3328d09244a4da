from pathlib import Path

import pytest

from config.errors import ConfigError
from config.settings import Settings


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
        ({"SIGNROOM_FACE_ENGINE": "facenet"}, "FACE_ENGINE must be one of dlib, arcface"),
        ({"SIGNROOM_NOTIFIER": "sms"}, "NOTIFIER must be one of demo, webhook, smtp"),
    ],
)
def test_bad_settings_are_named(environ: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env(environ)


# Counts, sizes and durations: zero or less is refused for each.
COUNTS = (
    "invite_ttl_hours",
    "session_idle_minutes",
    "session_max_hours",
    "login_max_failures",
    "login_window_minutes",
    "max_request_bytes",
    "max_json_bytes",
    "expiry_sweep_seconds",
    "kyc_workers",
    "kyc_timeout_seconds",
    "kyc_worker_memory_mb",
    "max_upload_bytes",
    "max_video_bytes",
    "liveness_challenges",
    "liveness_window_seconds",
    "liveness_lead_in_ms",
    "liveness_attempts",
    "turn_ttl_minutes",
    "call_grace_seconds",
    "frame_tap_fps",
    "signing_code_minutes",
    "event_certificate_seconds",
    "min_free_disk_mb",
    "notifier_smtp_port",
    "max_pdf_bytes",
    "validation_timeout_seconds",
    "validation_memory_mb",
    "template_timeout_seconds",
    "template_memory_mb",
    "webhook_poll_ms",
    "webhook_backoff_ms",
    "webhook_timeout_seconds",
    "webhook_give_up_hours",
    "checkpoint_every_entries",
    "checkpoint_minutes",
    "checkpoint_poll_ms",
    "retention_recordings_days",
    "retention_images_days",
    "retention_packages_days",
    "retention_sweep_minutes",
)


@pytest.mark.parametrize("name", COUNTS)
def test_counts_and_durations_must_be_positive(name: str) -> None:
    with pytest.raises(ConfigError, match=f"SIGNROOM_{name.upper()} must be positive"):
        Settings.from_env({f"SIGNROOM_{name.upper()}": "0"})
    assert getattr(Settings.from_env({f"SIGNROOM_{name.upper()}": "1"}), name) == 1


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "signroom.toml"
    config.write_text("prot = 9000\n")
    with pytest.raises(ConfigError, match="prot"):
        Settings.from_env({"SIGNROOM_CONFIG": str(config)})
