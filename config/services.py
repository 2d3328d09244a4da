"""Services built from the settings: the blob store, the cluster's coordination,
the signing service, the code notifier and the identity sources."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.bus import Bus
from cluster.nodes import Nodes, RedisNodes, SingleNode
from cluster.redis_client import connect
from config.errors import ConfigError
from config.settings import Settings
from integration.fake_sources import FakeBusinessRegistry, FakeIdentitySource
from integration.identity_sources import HttpBusinessRegistry, HttpIdentitySource
from integration.notify import DemoNotifier, Notifier, SmtpNotifier, WebhookNotifier
from jobs.queue import JobQueue, QueuedIdentityChecks, QueuedValidation
from kyc.sources import BusinessRegistry, IdentitySource, IdentitySources
from kyc.workers import IdentityChecks, KycWorkers
from signing.pki.seal import TokenSettings
from signing.service import SigningService, SigningSettings
from signing.workers import PdfValidator, ValidationWorkers
from store.blobs import JOB_INPUTS, BlobStore, FileBlobStore
from store.s3_blobs import S3BlobStore


@dataclass
class Coordination:
    """How this node takes part in the cluster: alone, or through Redis."""

    nodes: Nodes
    bus: Bus | None = None
    redis: Redis | None = None

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def open_coordination(settings: Settings, hosted: Callable[[], int]) -> Coordination:
    """`hosted`: how many calls this node hosts now (its load, for placing calls)."""
    cluster = settings.cluster
    if not cluster.clustered:
        return Coordination(SingleNode(cluster, hosted))
    redis = connect(cluster.redis_url)
    return Coordination(RedisNodes(redis, cluster, hosted), Bus(redis, cluster.node_id), redis)


@dataclass
class IdentityCheckServices:
    """Where identity checks and PDF validation run: this node's own worker
    processes, or `signroom worker`s through the job queue."""

    checks: IdentityChecks
    validation: PdfValidator
    queue: JobQueue | None = None

    async def start(self) -> None:
        if self.queue is not None:
            await self.queue.start()

    async def close(self) -> None:
        await asyncio.to_thread(self.checks.close)
        await asyncio.to_thread(self.validation.close)
        if self.queue is not None:
            await self.queue.close()


def local_kyc_workers(settings: Settings) -> KycWorkers:
    return KycWorkers(
        processes=settings.kyc_workers,
        timeout_seconds=settings.kyc_timeout_seconds,
        memory_limit_bytes=settings.kyc_worker_memory_mb * 1024 * 1024,
        face=settings.face,
    )


def local_validation(settings: Settings) -> ValidationWorkers:
    return ValidationWorkers(
        timeout_seconds=settings.validation_timeout_seconds,
        memory_limit_bytes=settings.validation_memory_mb * 1024 * 1024,
    )


def open_identity_checks(settings: Settings, engine: AsyncEngine) -> IdentityCheckServices:
    if settings.identity_jobs == "local":
        return IdentityCheckServices(local_kyc_workers(settings), local_validation(settings))
    queue = JobQueue(
        settings.redis_url,
        engine,
        open_blob_store(settings, JOB_INPUTS),
        wait=timedelta(seconds=settings.identity_job_wait_seconds),
    )
    return IdentityCheckServices(QueuedIdentityChecks(queue), QueuedValidation(queue), queue)


def open_blob_store(settings: Settings, namespace: str = "") -> BlobStore:
    """The blob store, or one of its namespaces (store/blobs.py)."""
    location = settings.s3_location
    if location is None:
        return FileBlobStore(settings.blob_dir / namespace if namespace else settings.blob_dir)
    if namespace:
        return S3BlobStore(location.within(namespace), settings.blob_cache_dir / namespace)
    return S3BlobStore(location, settings.blob_cache_dir)


def _passphrase(settings: Settings) -> bytes:
    if settings.pki_passphrase:
        return settings.pki_passphrase.encode()
    # Demo only (see Settings.pki_passphrase): generated once, kept beside the keys.
    path: Path = settings.pki_dir / "passphrase"
    settings.pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


def signing_settings(settings: Settings) -> SigningSettings:
    token = None
    if settings.seal_pkcs11_module:
        token = TokenSettings(
            module=settings.seal_pkcs11_module,
            token_label=settings.seal_pkcs11_token,
            pin=settings.seal_pkcs11_pin,
            key_label=settings.seal_pkcs11_key_label,
        )
    return SigningSettings(
        pki_dir=settings.pki_dir,
        passphrase=_passphrase(settings),
        bank_name=settings.bank_name,
        public_url=settings.public_url,
        token=token,
        tsa_url=settings.tsa_url,
        event_lifetime=timedelta(seconds=settings.event_certificate_seconds),
    )


def open_signing(settings: Settings) -> SigningService:
    return SigningService.open(signing_settings(settings))


def make_notifier(settings: Settings) -> Notifier:
    if settings.notifier == "webhook":
        return WebhookNotifier(settings.notifier_webhook_url, settings.notifier_webhook_secret)
    if settings.notifier == "smtp":
        return SmtpNotifier(
            settings.notifier_smtp_host,
            settings.notifier_smtp_port,
            settings.notifier_smtp_sender,
            settings.notifier_smtp_domain,
        )
    return DemoNotifier()


def open_identity_sources(settings: Settings) -> IdentitySources:
    """The identity platform and business registry the settings name."""
    timeout = float(settings.source_timeout_seconds)
    identity: IdentitySource | None = None
    if settings.identity_source == "http":
        identity = HttpIdentitySource(
            settings.identity_source_url, settings.identity_source_secret, timeout
        )
    elif settings.identity_source == "fake":
        identity = FakeIdentitySource()
    registry: BusinessRegistry | None = None
    if settings.registry_source == "http":
        registry = HttpBusinessRegistry(
            settings.registry_source_url, settings.registry_source_secret, timeout
        )
    elif settings.registry_source == "fake":
        if not settings.registry_source_fake_file:
            registry = FakeBusinessRegistry({})
        else:
            try:
                registry = FakeBusinessRegistry.from_file(Path(settings.registry_source_fake_file))
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"SIGNROOM_REGISTRY_SOURCE_FAKE_FILE: unreadable ({type(exc).__name__})"
                ) from None
    return IdentitySources(identity, registry, settings.source_gate)
