"""Signed webhook deliveries from a persistent outbox.

The dispatcher reads the audit log past its cursor and, in the same transaction
that moves the cursor, writes one delivery row per (event, subscriber); the unique
(event, subscriber) constraint makes a second enqueue impossible. Deliveries are
then sent with a lease (so two nodes, or a restarted one, do not send the same row
at once), retried with exponential backoff until they are 24 hours old, and logged
per attempt. A receiver sees each event id once, except if the service dies between
the receiver's 2xx and recording it: receivers deduplicate on Signroom-Event-Id.

Each attempt is signed as everything the service sends (integration/signature.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from audit import log as audit
from integration.actions import IntegrationAction
from integration.destinations import Destinations, GuardedResolver
from integration.errors import SubscriptionInvalid, SubscriptionNotFound
from integration.events import EventType, events_from
from integration.signature import signed_headers
from store.background import BackgroundRounds
from store.leases import Lease
from store.schema import audit_log, webhook_cursor, webhook_deliveries, webhook_subscriptions

log = logging.getLogger("signroom.webhooks")

BATCH = 200
LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    poll_interval: float
    backoff: timedelta  # first retry; doubles each time, at most an hour
    timeout: float
    give_up_after: timedelta
    destinations: Destinations = field(default_factory=Destinations)


# Subscriptions -------------------------------------------------------------------


async def subscribe(
    engine: AsyncEngine,
    actor: audit.Actor,
    url: str,
    events: set[EventType],
    destinations: Destinations,
    *,
    request_id: str | None = None,
) -> tuple[str, str]:
    """A new subscriber; returns its id and signing secret (shown once)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise SubscriptionInvalid("the URL must be http(s)://host/...")
    refused = destinations.url_refused(url)
    if refused:
        raise SubscriptionInvalid(
            f"webhooks are not sent there: {refused} (SIGNROOM_WEBHOOK_ALLOWED_NETWORKS)"
        )
    if not events:
        raise SubscriptionInvalid("subscribe to at least one event type")
    subscription_id = str(uuid.uuid4())
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await _start_cursor(conn)
        await conn.execute(
            webhook_subscriptions.insert().values(
                id=subscription_id,
                url=url,
                secret=secret,
                events=json.dumps(sorted(e.value for e in events)),
                created_by=actor.id,
                created_at=now,
            )
        )
        await audit.append(
            conn,
            actor,
            IntegrationAction.WEBHOOK_SUBSCRIBED,
            request_id=request_id,
            details={
                "subscription_id": subscription_id,
                "host": parts.netloc,
                "events": sorted(e.value for e in events),
            },
            at=now,
        )
    return subscription_id, secret


async def disable(
    engine: AsyncEngine, actor: audit.Actor, subscription_id: str, *, request_id: str | None = None
) -> None:
    async with engine.begin() as conn:
        result = await conn.execute(
            update(webhook_subscriptions)
            .where(
                webhook_subscriptions.c.id == subscription_id,
                webhook_subscriptions.c.disabled_at.is_(None),
            )
            .values(disabled_at=datetime.now(UTC))
        )
        if result.rowcount != 1:
            raise SubscriptionNotFound("no such active subscription")
        await audit.append(
            conn,
            actor,
            IntegrationAction.WEBHOOK_DISABLED,
            request_id=request_id,
            details={"subscription_id": subscription_id},
        )


async def list_subscriptions(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(webhook_subscriptions).order_by(webhook_subscriptions.c.created_at)
            )
        ).mappings()
        return [
            {
                "id": r["id"],
                "url": r["url"],
                "events": json.loads(r["events"]),
                "created_at": r["created_at"].isoformat(timespec="seconds"),
                "disabled_at": r["disabled_at"].isoformat(timespec="seconds")
                if r["disabled_at"]
                else None,
            }
            for r in rows
        ]


async def delivery_log(
    engine: AsyncEngine, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    query = select(webhook_deliveries).order_by(webhook_deliveries.c.created_at.desc()).limit(limit)
    if status:
        query = query.where(webhook_deliveries.c.status == status)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        {
            "id": r["id"],
            "event_id": r["event_id"],
            "event_type": r["event_type"],
            "subscription_id": r["subscription_id"],
            "status": r["status"],
            "attempts": r["attempts"],
            "last_status": r["last_status"],
            "last_error": r["last_error"],
            "created_at": r["created_at"].isoformat(timespec="seconds"),
            "next_attempt_at": r["next_attempt_at"].isoformat(timespec="seconds"),
            "delivered_at": r["delivered_at"].isoformat(timespec="seconds")
            if r["delivered_at"]
            else None,
        }
        for r in rows
    ]


# The outbox ----------------------------------------------------------------------


async def _start_cursor(conn: Any) -> None:
    """The first subscriber starts the cursor at the log's head: no replay of history."""
    exists = (await conn.execute(select(func.count()).select_from(webhook_cursor))).scalar_one()
    if not exists:
        head = (await conn.execute(select(func.max(audit_log.c.seq)))).scalar_one() or 0
        await conn.execute(webhook_cursor.insert().values(id=1, last_seq=head))


async def enqueue(engine: AsyncEngine) -> int:
    """Turn new audit entries into delivery rows; returns how many rows were written."""
    written = 0
    async with engine.begin() as conn:
        cursor = (
            await conn.execute(
                select(webhook_cursor.c.last_seq).where(webhook_cursor.c.id == 1).with_for_update()
            )
        ).scalar_one_or_none()
        if cursor is None:
            return 0
        rows = (
            (
                await conn.execute(
                    select(audit_log)
                    .where(audit_log.c.seq > cursor)
                    .order_by(audit_log.c.seq)
                    .limit(BATCH)
                )
            )
            .mappings()
            .all()
        )
        if not rows:
            return 0
        subscriptions = (
            (
                await conn.execute(
                    select(webhook_subscriptions).where(
                        webhook_subscriptions.c.disabled_at.is_(None)
                    )
                )
            )
            .mappings()
            .all()
        )
        wanted = [(s["id"], set(json.loads(s["events"]))) for s in subscriptions]
        now = datetime.now(UTC)
        for row in rows:
            for event in events_from(
                row["seq"],
                row["action"],
                row["application_id"],
                json.loads(row["details"]),
                row["at"],
            ):
                for subscription_id, types in wanted:
                    if event.type.value not in types:
                        continue
                    await conn.execute(
                        webhook_deliveries.insert().values(
                            id=str(uuid.uuid4()),
                            event_id=event.id,
                            subscription_id=subscription_id,
                            event_type=event.type.value,
                            payload=json.dumps(event.payload(), ensure_ascii=False, sort_keys=True),
                            created_at=now,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                        )
                    )
                    written += 1
        await conn.execute(
            update(webhook_cursor).where(webhook_cursor.c.id == 1).values(last_seq=rows[-1]["seq"])
        )
    return written


async def pending_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(webhook_deliveries)
                    .where(webhook_deliveries.c.status == "pending")
                )
            ).scalar_one()
        )


async def _claim(
    engine: AsyncEngine, now: datetime, busy: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Lease what is due, leaving out the subscribers in `busy` (still sending)."""
    async with engine.begin() as conn:
        due = (
            (
                await conn.execute(
                    select(
                        webhook_deliveries,
                        webhook_subscriptions.c.url,
                        webhook_subscriptions.c.secret,
                    )
                    .join(
                        webhook_subscriptions,
                        webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id,
                    )
                    .where(
                        webhook_deliveries.c.status == "pending",
                        webhook_deliveries.c.next_attempt_at <= now,
                        (webhook_deliveries.c.lease_until.is_(None))
                        | (webhook_deliveries.c.lease_until < now),
                        webhook_deliveries.c.subscription_id.not_in(list(busy)),
                    )
                    .order_by(webhook_deliveries.c.created_at)
                    .limit(20)
                )
            )
            .mappings()
            .all()
        )
        claimed = []
        for row in due:
            result = await conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.id == row["id"],
                    (webhook_deliveries.c.lease_until.is_(None))
                    | (webhook_deliveries.c.lease_until < now),
                )
                .values(lease_until=now + LEASE)
            )
            if result.rowcount == 1:
                claimed.append(dict(row))
    return claimed


async def _send(
    session: aiohttp.ClientSession, row: dict[str, Any], settings: WebhookSettings
) -> tuple[int | None, str | None]:
    # Checked again as written: aiohttp does not resolve a literal address, so
    # GuardedResolver never sees it.
    if settings.destinations.url_refused(row["url"]):
        return None, "destination_refused"
    body = row["payload"].encode()
    headers = {
        "Content-Type": "application/json",
        "Signroom-Event-Id": row["event_id"],
        "Signroom-Event-Type": row["event_type"],
        **signed_headers(row["secret"], body),
    }
    try:
        async with session.post(
            row["url"],
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=settings.timeout),
            # A redirect is the receiver's answer, not a new destination to reach.
            allow_redirects=False,
        ) as response:
            return response.status, None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return None, type(exc).__name__


# Told of each delivery's outcome (delivered, retry, failed) and of the queue's depth.
Observer = Callable[[dict[str, int], int | None], None]


class _Dispatch:
    """Each subscriber's due deliveries are sent by a task of its own, in order, and
    a subscriber is claimed for again only when its task is done: a receiver that
    hangs holds up its own deliveries, never another subscriber's."""

    def __init__(
        self,
        engine: AsyncEngine,
        session: aiohttp.ClientSession,
        settings: WebhookSettings,
        observe: Observer,
    ) -> None:
        self._engine = engine
        self._session = session
        self._settings = settings
        self._observe = observe
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._sends: set[asyncio.Task[tuple[int | None, str | None]]] = set()
        self._stopping = False

    async def round(self) -> None:
        await enqueue(self._engine)
        by_subscriber: dict[str, list[dict[str, Any]]] = {}
        for row in await _claim(self._engine, datetime.now(UTC), self._busy):
            by_subscriber.setdefault(row["subscription_id"], []).append(row)
        for subscriber, rows in by_subscriber.items():
            self._busy[subscriber] = asyncio.create_task(self._serve(subscriber, rows))
        self._observe({}, await pending_count(self._engine))

    async def _serve(self, subscriber: str, rows: list[dict[str, Any]]) -> None:
        try:
            for row in rows:
                if self._stopping:
                    return
                # Only the request is cancelled at shutdown, never the write of its
                # outcome (store/background.py says why); the lease brings it back.
                send = asyncio.create_task(_send(self._session, row, self._settings))
                self._sends.add(send)
                try:
                    status, error = await send
                finally:
                    self._sends.discard(send)
                outcome = await _record_outcome(self._engine, self._settings, row, status, error)
                self._observe({outcome: 1}, None)
        except Exception:
            # The rows' leases run out and they are tried again.
            log.exception("webhook delivery failed to record; retrying later")
        finally:
            self._busy.pop(subscriber, None)

    async def close(self) -> None:
        self._stopping = True
        for send in list(self._sends):
            send.cancel()
        await asyncio.gather(*self._busy.values(), return_exceptions=True)


async def _record_outcome(
    engine: AsyncEngine,
    settings: WebhookSettings,
    row: dict[str, Any],
    status: int | None,
    error: str | None,
) -> str:
    done = datetime.now(UTC)
    attempts = row["attempts"] + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status": status,
        "last_error": error,
        "lease_until": None,
    }
    if status is not None and 200 <= status < 300:
        values.update(status="delivered", delivered_at=done)
        outcome = "delivered"
    elif done - row["created_at"] >= settings.give_up_after:
        values["status"] = "failed"
        outcome = "failed"
    else:
        delay = min(settings.backoff * 2 ** (attempts - 1), MAX_BACKOFF)
        values["next_attempt_at"] = done + delay
        outcome = "retry"
    async with engine.begin() as conn:
        await conn.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.id == row["id"]).values(**values)
        )
    return outcome


async def run_dispatcher(
    engine: AsyncEngine, settings: WebhookSettings, observe: Observer, lease: Lease | None = None
) -> AsyncIterator[None]:
    """Cleanup context: enqueue and deliver in the background until shutdown."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(settings.destinations))
    async with aiohttp.ClientSession(connector=connector) as session:
        dispatch = _Dispatch(engine, session, settings, observe)
        rounds = BackgroundRounds(
            "webhook dispatch",
            dispatch.round,
            settings.poll_interval,
            first_at_once=True,
            lease=lease,
        )
        rounds.start()
        try:
            yield
        finally:
            await rounds.stop()
            await dispatch.close()
