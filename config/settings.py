"""Settings from environment variables, optionally layered over a TOML file.

Each setting `name` is read from `SIGNROOM_<NAME>`; `SIGNROOM_CONFIG` may point at a
TOML file whose top-level keys are the same names in lower case. The environment
wins over the file, the file over the defaults.
"""

from __future__ import annotations

import os
import secrets
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cluster.settings import ClusterSettings
from compliance.retention import RetentionPolicy
from config.errors import ConfigError
from config.event_loop import EVENT_LOOPS
from integration.destinations import Destinations, parse_networks
from integration.webhooks import WebhookSettings
from interview.settings import InterviewSettings
from kyc.face_engine import ENGINES, FaceConfig
from media.ice import IceSettings
from store.database import DEFAULT_DATABASE_URL, SUPPORTED_DRIVERS
from store.s3_location import S3Location

POSITIVE = "positive"
ONE_OF = "one_of"
NOTIFIERS = ("demo", "webhook", "smtp")
IDENTITY_JOBS = ("local", "redis")
SOURCES = ("none", "fake", "http")
# A node id unique to this process, unless SIGNROOM_NODE_ID names one.
_THIS_PROCESS = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def positive(default: int) -> int:
    """A count, size or duration: `check` refuses zero and below."""
    result: int = field(default=default, metadata={POSITIVE: True})
    return result


def one_of(default: str, choices: tuple[str, ...]) -> str:
    """A name from a fixed set: `check` refuses any other."""
    result: str = field(default=default, metadata={ONE_OF: choices})
    return result


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8080
    # The address applicants reach the service at; invite links are built on it.
    public_url: str = "http://127.0.0.1:8080"
    invite_ttl_hours: int = positive(72)
    session_idle_minutes: int = positive(30)
    session_max_hours: int = positive(12)
    login_max_failures: int = positive(5)
    login_window_minutes: int = positive(15)
    max_request_bytes: int = positive(1024 * 1024)
    max_json_bytes: int = positive(64 * 1024)
    # Behind a TLS-terminating proxy the app sees plain HTTP; trust X-Forwarded-Proto then.
    trust_forwarded_proto: bool = False
    expiry_sweep_seconds: int = positive(60)
    log_level: str = "INFO"
    # uvloop or asyncio (config/event_loop.py).
    event_loop: str = one_of("uvloop", EVENT_LOOPS)
    # Times on pages are shown in the bank's zone; storage and the audit log stay UTC.
    display_timezone: str = "Asia/Shanghai"
    # Document photos: reading runs in this many worker processes, each limited to
    # this much memory, and a read that runs longer than the timeout is abandoned.
    kyc_workers: int = positive(2)
    kyc_timeout_seconds: int = positive(30)
    kyc_worker_memory_mb: int = positive(3072)
    # The face engine (kyc/face_engine.py): dlib (CC0, the default) or arcface
    # with the bank's own licensed ArcFace-format ONNX model, and the thresholds
    # `signroom kyc calibrate` wrote for a model signroom has no calibration of.
    face_engine: str = one_of("dlib", ENGINES)
    face_model: str = ""
    face_thresholds: str = ""
    max_upload_bytes: int = positive(12 * 1024 * 1024)
    # /readyz says not ready when a data directory's disk has less free than this.
    min_free_disk_mb: int = positive(256)
    max_video_bytes: int = positive(30 * 1024 * 1024)
    # Liveness: how many random challenges, how long each prompt shows, the pause
    # before the first, how many failed attempts before the manager takes over.
    liveness_challenges: int = positive(3)
    liveness_window_seconds: int = positive(3)
    liveness_lead_in_ms: int = positive(1500)
    liveness_attempts: int = positive(3)
    # Tests only: a fixed comma-separated challenge sequence matching a recorded
    # clip. It fixes the order, never skips a check.
    liveness_fixed_challenges: str = ""
    # Verification sessions (live_identity): worker processes on each node that
    # measure the frames the node receives, one session's frames at a time each.
    live_check_processes: int = positive(1)
    # Video calls. ICE servers are only ever these (comma-separated URLs); with
    # none, host candidates only. TURN credentials are HMAC-signed with the secret
    # shared with coturn (use-auth-secret) and expire after turn_ttl_minutes.
    stun_urls: str = ""
    turn_urls: str = ""
    turn_secret: str = field(default="", repr=False)
    turn_ttl_minutes: int = positive(60)
    ice_relay_only: bool = False
    # A participant who drops may rejoin within this many seconds.
    call_grace_seconds: int = positive(120)
    # Frames per second the identity checks get from the applicant's live video.
    frame_tap_fps: int = positive(5)
    bank_name: str = "示例银行股份有限公司"
    # Encrypts the CA's private keys at rest. Empty: the demo generates one and
    # keeps it beside the keys (data_dir/pki/passphrase), which protects nothing;
    # production sets it from a secret store.
    pki_passphrase: str = field(default="", repr=False)
    tsa_url: str = ""
    seal_pkcs11_module: str = ""
    seal_pkcs11_token: str = ""
    seal_pkcs11_pin: str = field(default="", repr=False)
    seal_pkcs11_key_label: str = "signroom-seal"
    signing_code_minutes: int = positive(5)
    # The applicant's one-signature certificate lives this long from issue; the
    # signature stays valid after it expires (README, "Signed contracts").
    event_certificate_seconds: int = positive(600)
    notifier: str = one_of("demo", NOTIFIERS)
    notifier_webhook_url: str = ""
    notifier_webhook_secret: str = field(default="", repr=False)
    notifier_smtp_host: str = ""
    notifier_smtp_port: int = positive(25)
    notifier_smtp_sender: str = ""
    notifier_smtp_domain: str = ""
    max_pdf_bytes: int = positive(20 * 1024 * 1024)
    validation_timeout_seconds: int = positive(60)
    validation_memory_mb: int = positive(1024)
    # The worker that checks admins' contract templates and renders contracts.
    template_timeout_seconds: int = positive(20)
    template_memory_mb: int = positive(1024)
    webhook_poll_ms: int = positive(1000)
    webhook_backoff_ms: int = positive(10_000)
    webhook_timeout_seconds: int = positive(10)
    webhook_give_up_hours: int = positive(24)
    # Webhooks go to public addresses only; these comma-separated addresses or
    # networks (a receiver inside the bank, the tests' local one) are allowed too.
    webhook_allowed_networks: str = ""
    checkpoint_every_entries: int = positive(1000)
    checkpoint_minutes: int = positive(60)
    checkpoint_poll_ms: int = positive(30_000)
    # A directory outside the database (another disk, a mounted bucket) that keeps
    # every checkpoint; empty: checkpoints stay in the database only.
    checkpoint_export_dir: str = ""
    # Retention of closed cases' personal data, per kind, counted from closing
    # (compliance/retention.py); the sweep runs every retention_sweep_minutes.
    retention_recordings_days: int = positive(1825)
    retention_images_days: int = positive(1825)
    # Selfies, liveness clips and their stills: sensitive (PIPL Art. 28), kept the
    # shortest; a withdrawn consent deletes them before signing (compliance/erasure.py).
    retention_biometrics_days: int = positive(30)
    retention_packages_days: int = positive(3650)
    retention_sweep_minutes: int = positive(60)
    # Empty: /metrics answers loopback clients only.
    metrics_token: str = field(default="", repr=False)
    # Where blobs (photos, recordings, PDFs, packages) live: empty for DATA_DIR/blobs,
    # or s3://bucket[/prefix] on an S3-compatible store (several nodes share one).
    blob_url: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = field(default="", repr=False)
    s3_secret_key: str = field(default="", repr=False)
    # The CA's keys and certificates; several nodes share one directory (a mounted
    # volume) or a PKCS#11 seal. Empty: DATA_DIR/pki.
    ca_dir: str = ""
    # Several nodes (cluster/): each registers in Redis under its id while it
    # heartbeats. Empty redis_url: one node, nothing shared but the database.
    redis_url: str = field(default="", repr=False)
    node_id: str = ""
    # How operators and the other nodes name this node (its own URL); default
    # http://HOST:PORT.
    node_address: str = ""
    node_heartbeat_ms: int = positive(1000)
    # A node that has not heartbeaten for this long is dead: its calls move.
    node_ttl_ms: int = positive(5000)
    # On SIGTERM or `signroom node drain`: running calls may finish for this long,
    # then they move to another node.
    drain_seconds: int = positive(600)
    # Identity checks (reading, face match, liveness, PDF validation): in this
    # node's own worker processes, or as jobs on Redis for `signroom worker`s.
    identity_jobs: str = one_of("local", IDENTITY_JOBS)
    # How long a node waits for a worker's result before telling the applicant to
    # try again (queueing included).
    identity_job_wait_seconds: int = positive(180)
    # A worker's longest run of one job; a job whose worker died runs again this
    # much (plus 10 s) after it started.
    identity_job_timeout_seconds: int = positive(90)
    # Outside sources asked about the documents (kyc/sources.py): an identity
    # platform about the ID card's number and the legal representative, a business
    # registry about the licence's credit code. `http` speaks the signed protocol
    # of integration/identity_sources.py; `fake` is the demo's stand-in (the fake
    # registry knows the companies in registry_source_fake_file). With source_gate
    # the case reaches identity_verified only when every asked source agrees.
    identity_source: str = one_of("none", SOURCES)
    identity_source_url: str = ""
    identity_source_secret: str = field(default="", repr=False)
    registry_source: str = one_of("none", SOURCES)
    registry_source_url: str = ""
    registry_source_secret: str = field(default="", repr=False)
    registry_source_fake_file: str = ""
    source_timeout_seconds: int = positive(10)
    source_gate: bool = False

    @property
    def invite_ttl(self) -> timedelta:
        return timedelta(hours=self.invite_ttl_hours)

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def session_max(self) -> timedelta:
        return timedelta(hours=self.session_max_hours)

    @property
    def login_window(self) -> timedelta:
        return timedelta(minutes=self.login_window_minutes)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def webhooks(self) -> WebhookSettings:
        return WebhookSettings(
            poll_interval=self.webhook_poll_ms / 1000,
            backoff=timedelta(milliseconds=self.webhook_backoff_ms),
            timeout=self.webhook_timeout_seconds,
            give_up_after=timedelta(hours=self.webhook_give_up_hours),
            destinations=Destinations(parse_networks(self.webhook_allowed_networks)),
        )

    @property
    def interview(self) -> InterviewSettings:
        return InterviewSettings(
            bank_name=self.bank_name,
            display_timezone=self.display_timezone,
            signing_code_minutes=self.signing_code_minutes,
        )

    @property
    def checkpoint_export(self) -> Path | None:
        return Path(self.checkpoint_export_dir) if self.checkpoint_export_dir else None

    @property
    def retention(self) -> RetentionPolicy:
        return RetentionPolicy(
            recordings=timedelta(days=self.retention_recordings_days),
            images=timedelta(days=self.retention_images_days),
            biometrics=timedelta(days=self.retention_biometrics_days),
            packages=timedelta(days=self.retention_packages_days),
        )

    @property
    def pki_dir(self) -> Path:
        return Path(self.ca_dir) if self.ca_dir else self.data_dir / "pki"

    @property
    def blob_cache_dir(self) -> Path:
        """Blobs from the object store kept on this node to serve in ranges."""
        return self.data_dir / "blob-cache"

    @property
    def s3_location(self) -> S3Location | None:
        if not self.blob_url:
            return None
        return S3Location.from_url(
            self.blob_url,
            endpoint_url=self.s3_endpoint_url,
            region=self.s3_region,
            access_key=self.s3_access_key,
            secret_key=self.s3_secret_key,
        )

    @property
    def cluster(self) -> ClusterSettings:
        return ClusterSettings(
            node_id=self.node_id or _THIS_PROCESS,
            node_address=self.node_address or f"http://{self.host}:{self.port}",
            redis_url=self.redis_url,
            heartbeat=timedelta(milliseconds=self.node_heartbeat_ms),
            node_ttl=timedelta(milliseconds=self.node_ttl_ms),
            drain=timedelta(seconds=self.drain_seconds),
        )

    @property
    def ice(self) -> IceSettings:
        def urls(text: str) -> tuple[str, ...]:
            return tuple(u.strip() for u in text.split(",") if u.strip())

        return IceSettings(
            stun_urls=urls(self.stun_urls),
            turn_urls=urls(self.turn_urls),
            turn_secret=self.turn_secret,
            turn_ttl=timedelta(minutes=self.turn_ttl_minutes),
            relay_only=self.ice_relay_only,
        )

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def face(self) -> FaceConfig:
        return FaceConfig(self.face_engine, self.face_model, self.face_thresholds)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        config_file = environ.get("SIGNROOM_CONFIG")
        if config_file:
            try:
                raw.update(tomllib.loads(Path(config_file).read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"cannot read SIGNROOM_CONFIG file {config_file}: {exc}") from exc
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"unknown settings in {config_file}: {', '.join(unknown)}")
        for name in known:
            value = environ.get(f"SIGNROOM_{name.upper()}")
            if value is not None:
                raw[name] = value
        return cls.from_mapping(raw)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Settings:
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name in raw:
                values[item.name] = _coerce(item.name, item.type, raw[item.name])
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if not self.database_url.startswith(tuple(d + ":" for d in SUPPORTED_DRIVERS)):
            raise ConfigError(
                f"SIGNROOM_DATABASE_URL must start with {' or '.join(SUPPORTED_DRIVERS)}"
            )
        if urlsplit(self.public_url).scheme not in ("http", "https"):
            raise ConfigError("SIGNROOM_PUBLIC_URL must be an http or https URL")
        for item in fields(self):
            if item.metadata.get(POSITIVE) and getattr(self, item.name) <= 0:
                raise ConfigError(f"SIGNROOM_{item.name.upper()} must be positive")
            choices = item.metadata.get(ONE_OF)
            if choices and getattr(self, item.name) not in choices:
                raise ConfigError(
                    f"SIGNROOM_{item.name.upper()} must be one of {', '.join(choices)}"
                )
        try:
            parse_networks(self.webhook_allowed_networks)
        except ValueError as exc:
            raise ConfigError(f"SIGNROOM_WEBHOOK_ALLOWED_NETWORKS: {exc}") from None
        if not 0 < self.port < 65536:
            raise ConfigError("SIGNROOM_PORT must be a TCP port")
        for name in ("face_model", "face_thresholds"):
            given = getattr(self, name)
            if given and not Path(given).is_file():
                raise ConfigError(f"SIGNROOM_{name.upper()}: no file at {given}")
        if self.face_model and self.face_engine != "arcface":
            raise ConfigError(
                "SIGNROOM_FACE_MODEL is an ArcFace model: set SIGNROOM_FACE_ENGINE=arcface"
            )
        valid = {"blink", "turn_left", "turn_right", "nod", "open_mouth"}
        fixed = [c for c in self.liveness_fixed_challenges.split(",") if c]
        if fixed and (set(fixed) - valid or len(fixed) != self.liveness_challenges):
            raise ConfigError(
                "SIGNROOM_LIVENESS_FIXED_CHALLENGES must list SIGNROOM_LIVENESS_CHALLENGES of "
                + ", ".join(sorted(valid))
            )
        urls = [u for u in (self.stun_urls + "," + self.turn_urls).split(",") if u.strip()]
        for url in urls:
            if not url.strip().startswith(("stun:", "turn:", "turns:")):
                raise ConfigError(
                    f"ICE server URL {url.strip()!r} must start with stun:, turn: or turns:"
                )
        if self.turn_urls.strip() and not self.turn_secret:
            raise ConfigError(
                "SIGNROOM_TURN_URLS needs SIGNROOM_TURN_SECRET (coturn's static-auth-secret)"
            )
        if self.notifier == "webhook" and not (
            self.notifier_webhook_url and self.notifier_webhook_secret
        ):
            raise ConfigError(
                "SIGNROOM_NOTIFIER=webhook needs SIGNROOM_NOTIFIER_WEBHOOK_URL and _SECRET"
            )
        if self.notifier == "smtp" and not (
            self.notifier_smtp_host and self.notifier_smtp_sender and self.notifier_smtp_domain
        ):
            raise ConfigError(
                "SIGNROOM_NOTIFIER=smtp needs SIGNROOM_NOTIFIER_SMTP_HOST, _SENDER and _DOMAIN"
            )
        token = (self.seal_pkcs11_module, self.seal_pkcs11_token, self.seal_pkcs11_pin)
        if any(token) and not all(token):
            raise ConfigError(
                "a PKCS#11 seal needs SIGNROOM_SEAL_PKCS11_MODULE, _TOKEN and _PIN together"
            )
        if self.tsa_url and urlsplit(self.tsa_url).scheme not in ("http", "https"):
            raise ConfigError("SIGNROOM_TSA_URL must be an http or https URL")
        if not self.bank_name.strip():
            raise ConfigError("SIGNROOM_BANK_NAME must not be empty")
        self._check_cluster()
        self._check_sources()
        try:
            ZoneInfo(self.display_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"SIGNROOM_DISPLAY_TIMEZONE: unknown time zone {self.display_timezone!r}"
            ) from None

    def _check_cluster(self) -> None:
        try:
            self.s3_location  # noqa: B018 - parsed to refuse a malformed URL now
        except ValueError as exc:
            raise ConfigError(f"SIGNROOM_BLOB_URL: {exc}") from None
        if self.redis_url and urlsplit(self.redis_url).scheme not in ("redis", "rediss"):
            raise ConfigError("SIGNROOM_REDIS_URL must be a redis:// or rediss:// URL")
        if self.redis_url and self.database_url.startswith("sqlite"):
            raise ConfigError("several nodes (SIGNROOM_REDIS_URL) need a PostgreSQL database")
        if self.identity_jobs == "redis" and not self.redis_url:
            raise ConfigError("SIGNROOM_IDENTITY_JOBS=redis needs SIGNROOM_REDIS_URL")
        if self.node_ttl_ms < 2 * self.node_heartbeat_ms:
            raise ConfigError(
                "SIGNROOM_NODE_TTL_MS must be at least twice SIGNROOM_NODE_HEARTBEAT_MS"
            )

    def _check_sources(self) -> None:
        for kind in ("identity", "registry"):
            chosen = getattr(self, f"{kind}_source")
            if chosen != "http":
                continue
            url = getattr(self, f"{kind}_source_url")
            secret = getattr(self, f"{kind}_source_secret")
            if urlsplit(url).scheme not in ("http", "https") or not secret:
                raise ConfigError(
                    f"SIGNROOM_{kind.upper()}_SOURCE=http needs an http(s) "
                    f"SIGNROOM_{kind.upper()}_SOURCE_URL and SIGNROOM_{kind.upper()}_SOURCE_SECRET"
                )
        chosen = {self.identity_source, self.registry_source}
        if self.source_gate and (chosen == {"none"} or "fake" in chosen):
            raise ConfigError(
                "SIGNROOM_SOURCE_GATE needs a real identity or registry source, and no fake one"
            )
        if self.registry_source_fake_file and not Path(self.registry_source_fake_file).is_file():
            raise ConfigError(
                f"SIGNROOM_REGISTRY_SOURCE_FAKE_FILE: no file at {self.registry_source_fake_file}"
            )


def _coerce(name: str, kind: Any, value: Any) -> Any:
    try:
        if kind in ("int", int):
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind in ("bool", bool):
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind in ("Path", Path):
            return Path(str(value))
        return str(value)
    except ValueError:
        raise ConfigError(f"SIGNROOM_{name.upper()}: cannot use {value!r}") from None
