"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from audit.checkpoints import checkpoints_due, make_checkpoint
from compliance.evidence import EvidenceSources
from compliance.processing_record import people_with_face_data
from compliance.retention import RetentionSweeper
from config.errors import ConfigError
from config.services import (
    make_notifier,
    open_blob_store,
    open_coordination,
    open_identity_checks,
    open_identity_sources,
    open_signing,
)
from config.settings import Settings
from integration.webhooks import run_dispatcher
from interview.calls import Calls
from interview.contract_flow import InterviewServices
from kyc import face_pad
from kyc.errors import EngineUnavailable
from kyc.face_engine import describe
from kyc.face_thresholds import thresholds_for
from kyc.identity_paths import IdentityRules
from live_identity.call_check import CallChecks
from live_identity.frames import PooledFrameJudge
from live_identity.sessions import VerificationSessions
from live_identity.verdict import LiveServices
from loans.expiry import expire_lapsed
from media.actions import CallAction
from media.call import CallSettings
from signing.actions import ContractAction
from signing.contract.workers import ContractRenderer
from signing.workers import quiet_pyhanko_logs
from store.background import BackgroundRounds
from store.blobs import BIOMETRICS, BlobNamespaces
from store.database import create_engine
from store.leases import Lease
from web.api_auth import api_key_middleware
from web.auth.sessions import SessionStore
from web.auth.throttle import LoginThrottle
from web.keys import (
    BIOMETRIC_BLOBS,
    BLOBS,
    CALLS,
    CONTRACT_RENDERER,
    ENGINE,
    EVIDENCE,
    FACE_MODEL,
    IDENTITY_RULES,
    IDENTITY_SOURCES,
    INTERVIEW,
    KYC_WORKERS,
    LIVE_SESSIONS,
    METRICS,
    NOTIFIER,
    PAGES,
    SESSIONS,
    SETTINGS,
    SIGNALLING_SOCKETS,
    SIGNING,
    THROTTLE,
    VALIDATION,
)
from web.metrics import Metrics, measure_loop_lag
from web.middleware import (
    error_middleware,
    metrics_middleware,
    request_id_middleware,
    security_headers_middleware,
    session_middleware,
)
from web.page_templates import Pages
from web.routes import (
    admin,
    api_v1,
    applicant,
    applications,
    calls,
    contracts,
    documents,
    integration_admin,
    monitoring,
    pki,
    public,
    review,
    review_session,
    signing_admin,
    subject_requests,
    verification,
)
from web.signalling_sockets import SignallingSockets

log = logging.getLogger("signroom.web")

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_request_bytes,
        middlewares=[
            metrics_middleware,
            request_id_middleware,
            security_headers_middleware,
            error_middleware,
            api_key_middleware,
            session_middleware,
        ],
    )
    app[SETTINGS] = settings
    app[PAGES] = Pages(settings.display_timezone)
    app[BLOBS] = open_blob_store(settings)
    app[BIOMETRIC_BLOBS] = open_blob_store(settings, BIOMETRICS)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(lambda app: measure_loop_lag(app[METRICS]))
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_housekeeping)
    app.cleanup_ctx.append(_kyc_workers)
    app.cleanup_ctx.append(_calls)
    app.cleanup_ctx.append(_signing)
    app.cleanup_ctx.append(_services)
    app.cleanup_ctx.append(_live_identity)
    app.cleanup_ctx.append(_webhooks)
    app.cleanup_ctx.append(_checkpoints)
    app.cleanup_ctx.append(_retention)
    for table in (
        public.routes,
        applications.routes,
        applicant.routes,
        documents.routes,
        calls.routes,
        contracts.routes,
        review.routes,
        review_session.routes,
        pki.routes,
        monitoring.routes,
        api_v1.routes,
        integration_admin.routes,
        signing_admin.routes,
        admin.routes,
        subject_requests.routes,
        verification.routes,
    ):
        app.add_routes(table)
    app.router.add_static("/static/", STATIC_DIR, name="static")
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url)
    app[ENGINE] = engine
    app[SESSIONS] = SessionStore(engine, idle=settings.session_idle, lifetime=settings.session_max)
    app[THROTTLE] = LoginThrottle(
        engine, max_failures=settings.login_max_failures, window=settings.login_window
    )
    yield
    await engine.dispose()


async def _kyc_workers(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    try:
        # Hashing the model file; thresholds must exist for it before anyone uploads.
        model = await asyncio.to_thread(describe, settings.face)
        thresholds = thresholds_for(model, settings.face_thresholds)
        await asyncio.to_thread(face_pad.check)
    except EngineUnavailable as exc:
        raise ConfigError(str(exc)) from None
    log.info(
        "face engine %s, model %s (sha256 %s), licence: %s; match <= %s, review <= %s",
        model.engine,
        model.model,
        model.sha256[:16],
        model.licence,
        thresholds.match,
        thresholds.review,
    )
    log.info("presentation-attack model %s", face_pad.DESCRIPTION)
    app[FACE_MODEL] = model
    services = open_identity_checks(settings, app[ENGINE])
    await services.start()
    app[KYC_WORKERS] = services.checks
    app[VALIDATION] = services.validation
    yield
    await services.close()


def _lease(app: web.Application, name: str) -> Lease:
    """One node at a time does `name`; another takes over within the lease's time
    when that one dies."""
    return Lease(app[ENGINE], name, app[SETTINGS].cluster.node_id)


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    """Expire lapsed invitations and purge dead sessions in the background."""

    async def sweep() -> None:
        await expire_lapsed(app[ENGINE])
        await app[SESSIONS].purge_expired()

    rounds = BackgroundRounds(
        "housekeeping", sweep, app[SETTINGS].expiry_sweep_seconds, lease=_lease(app, "housekeeping")
    )
    rounds.start()
    yield
    await rounds.stop()


async def _calls(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    coordination = open_coordination(settings, lambda: len(app[CALLS].hosted))
    calls = Calls(
        app[ENGINE],
        app[BLOBS],
        CallSettings(
            settings.ice,
            settings.recordings_dir,
            grace=timedelta(seconds=settings.call_grace_seconds),
            tap_fps=settings.frame_tap_fps,
        ),
        coordination.nodes,
        coordination.bus,
        drain=settings.cluster.drain,
        # Drained on request, the node stops as on SIGTERM (aiohttp's graceful exit).
        on_drained=lambda: os.kill(os.getpid(), signal.SIGTERM),
    )
    app[CALLS] = calls
    await calls.start()
    sockets = SignallingSockets(app[SESSIONS])
    app[SIGNALLING_SOCKETS] = sockets

    async def shutting_down(_app: web.Application) -> None:
        calls.nodes.draining = True  # no new calls here; /readyz says so
        # Before the server waits for its handlers: open sockets would keep it
        # waiting. The pages reconnect, to another node when there is one.
        await sockets.close()

    app.on_shutdown.append(shutting_down)
    app[METRICS].watch_media(
        lambda: [call for call in calls.hosted.calls.values() if not call.ended],
        calls.hosted.services.settings.traffic,
    )
    yield
    # Calls still running end cleanly (one node) or move to another node once the
    # drain period is over (several): their segments are closed and audited.
    await calls.close()
    await coordination.close()


async def _signing(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    quiet_pyhanko_logs()
    # Loading (or on first run creating) the CA touches files and maybe a token.
    app[SIGNING] = await asyncio.to_thread(open_signing, settings)
    app[NOTIFIER] = make_notifier(settings)
    app[IDENTITY_SOURCES] = sources = open_identity_sources(settings)
    app[IDENTITY_RULES] = IdentityRules(sources.required, settings.liveness_attempts)
    fakes = [kind for kind, name in sources.as_json().items() if name == "fake"]
    if fakes:
        log.warning("FAKE identity sources (demo only, they verify nothing): %s", ", ".join(fakes))
    renderer = ContractRenderer(
        timeout_seconds=settings.template_timeout_seconds,
        memory_limit_bytes=settings.template_memory_mb * 1024 * 1024,
    )
    app[CONTRACT_RENDERER] = renderer
    yield
    await asyncio.to_thread(renderer.close)


async def _services(app: web.Application) -> AsyncIterator[None]:
    """The interview's and compliance's services, handed over explicitly."""
    settings = app[SETTINGS]
    metrics = app[METRICS]
    app[INTERVIEW] = InterviewServices(
        engine=app[ENGINE],
        blobs=app[BLOBS],
        signing=app[SIGNING],
        notifier=app[NOTIFIER],
        renderer=app[CONTRACT_RENDERER],
        settings=settings.interview,
        timed=lambda step: metrics.timed(metrics.signing, step=step),
    )
    app[EVIDENCE] = EvidenceSources(
        engine=app[ENGINE],
        blobs=app[BLOBS],
        biometric_blobs=app[BIOMETRIC_BLOBS],
        signing=app[SIGNING],
        checkpoint_export=settings.checkpoint_export,
    )
    yield


async def _live_identity(app: web.Application) -> AsyncIterator[None]:
    """Verification sessions: their frames measured in this node's own processes."""
    settings = app[SETTINGS]
    judge = PooledFrameJudge(
        processes=settings.live_check_processes,
        timeout_seconds=5,
        memory_limit_bytes=settings.kyc_worker_memory_mb * 1024 * 1024,
    )
    sessions = VerificationSessions(
        LiveServices(
            engine=app[ENGINE],
            blobs=app[BLOBS],
            biometric_blobs=app[BIOMETRIC_BLOBS],
            checks=app[KYC_WORKERS],
            judge=judge,
            call_settings=app[CALLS].hosted.services.settings,
            face_model=app[FACE_MODEL].reference,
            rules=app[IDENTITY_RULES],
            window_seconds=settings.liveness_window_seconds,
            display_timezone=settings.display_timezone,
        )
    )
    app[LIVE_SESSIONS] = sessions
    calls = app[CALLS]
    calls.live_checks = CallChecks(sessions.services)
    yield
    await sessions.close()
    await calls.live_checks.close()
    calls.live_checks = None
    await asyncio.to_thread(judge.close)


async def _webhooks(app: web.Application) -> AsyncIterator[None]:
    metrics = app[METRICS]

    def observe(results: dict[str, int], queued: int | None) -> None:
        for result, count in results.items():
            if count:
                metrics.webhook_deliveries.labels(result).inc(count)
        if queued is not None:
            metrics.webhook_queue.set(queued)

    async for _ in run_dispatcher(
        app[ENGINE], app[SETTINGS].webhooks, observe, _lease(app, "webhook-dispatch")
    ):
        yield


# Audit entries that close a session: a checkpoint follows each (audit/checkpoints.py).
SESSION_END_ACTIONS: set[str] = {CallAction.ENDED, ContractAction.SIGNED}


async def _checkpoints(app: web.Application) -> AsyncIterator[None]:
    """Seal the audit log every N entries, within T minutes of any entry, and after each session."""
    settings = app[SETTINGS]

    async def seal_when_due() -> None:
        reason = await checkpoints_due(
            app[ENGINE],
            every_entries=settings.checkpoint_every_entries,
            every_seconds=settings.checkpoint_minutes * 60,
            session_actions=SESSION_END_ACTIONS,
        )
        if reason:
            await make_checkpoint(
                app[ENGINE],
                app[SIGNING].seal_statement,
                reason,
                export_dir=settings.checkpoint_export,
            )

    rounds = BackgroundRounds(
        "audit checkpoint",
        seal_when_due,
        settings.checkpoint_poll_ms / 1000,
        lease=_lease(app, "audit-checkpoint"),
    )
    rounds.start()
    yield
    await rounds.stop()


async def _retention(app: web.Application) -> AsyncIterator[None]:
    """Delete closed cases' data whose retention period has run out (compliance/retention.py)."""
    settings = app[SETTINGS]
    sweeper = RetentionSweeper(
        app[ENGINE], BlobNamespaces(app[BLOBS], app[BIOMETRIC_BLOBS]), settings.retention
    )

    async def sweep() -> None:
        await sweeper.sweep()
        app[METRICS].people_with_face_data.set(await people_with_face_data(app[ENGINE]))

    rounds = BackgroundRounds(
        "retention sweep",
        sweep,
        settings.retention_sweep_minutes * 60,
        first_at_once=True,
        lease=_lease(app, "retention-sweep"),
    )
    rounds.start()
    yield
    await rounds.stop()
