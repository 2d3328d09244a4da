"""Several nodes on real engines: two signroom nodes, an identity-check worker
and HAProxy on PostgreSQL, Redis and SeaweedFS, all started here on loopback.

Any node serves any request; a call's participants signal through different
nodes; the node hosting a call is killed (SIGKILL) and the call goes on on the
other one; a worker killed mid-job leaves the job to run again and one result;
Redis stopped leaves the nodes up and saying why, calls in progress going, new
calls refused, until it is back.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from audit.log import Actor
from config.services import open_blob_store
from config.settings import Settings
from loans import applications as apps
from loans.access import SYSTEM_PRINCIPAL
from loans.roles import Role
from loans.states import Action
from localcluster.cluster import LocalCluster
from localcluster.errors import ServerUnavailable
from localcluster.nodes import Node, Worker, run_command
from store.blobs import JOB_INPUTS
from store.database import create_engine
from store.schema import audit_log, call_placements, job_results, recording_chunks
from tests.cluster_support import PageCall
from tests.document_flow import matching_documents, upload
from tests.web_support import APPLICATION, PASSWORD, Browser
from web.auth import users

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.slow]

SETTINGS = {
    "SIGNROOM_FACE_ENGINE": "arcface",
    "SIGNROOM_NODE_HEARTBEAT_MS": "500",
    "SIGNROOM_NODE_TTL_MS": "3000",
    "SIGNROOM_CALL_GRACE_SECONDS": "60",
    "SIGNROOM_DRAIN_SECONDS": "5",
    "SIGNROOM_KYC_WORKERS": "1",
    "SIGNROOM_KYC_TIMEOUT_SECONDS": "20",
    "SIGNROOM_IDENTITY_JOB_WAIT_SECONDS": "150",
    "SIGNROOM_IDENTITY_JOB_TIMEOUT_SECONDS": "15",
    "SIGNROOM_EXPIRY_SWEEP_SECONDS": "3600",
}


async def _new_database(server_url: str) -> str:
    url = make_url(server_url)
    name = f"signroom_cluster_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database or "postgres"
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def cluster(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalCluster]:
    request.getfixturevalue("s3_server")  # skips (or fails in CI) without SeaweedFS
    database = asyncio.run(_new_database(postgres_url))
    running = LocalCluster(
        tmp_path_factory.mktemp("cluster"), database_url=database, settings=SETTINGS
    )
    try:
        running.start()
    except ServerUnavailable as exc:
        pytest.fail(f"the cluster did not start: {exc}")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def engine(cluster: LocalCluster) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(cluster.env["SIGNROOM_DATABASE_URL"])
    yield eng
    await eng.dispose()


async def staff(engine: AsyncEngine, role: Role) -> str:
    name = f"{role.value[:3]}{uuid.uuid4().hex[:8]}"
    await users.create_user(
        engine,
        Actor("cli", "admin"),
        username=name,
        display_name=name,
        role=role.value,
        password=PASSWORD,
    )
    return name


def node_url(cluster: LocalCluster, name: str) -> URL:
    return URL(cluster.node(name).url)


async def signed_in(cluster: LocalCluster, node: str, username: str) -> Browser:
    browser = Browser(node_url(cluster, node))
    assert (await browser.login(username)).status == 200
    return browser


async def audit_actions(engine: AsyncEngine, application_id: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.action)
            .where(audit_log.c.application_id == application_id)
            .order_by(audit_log.c.seq)
        )
        return [row.action for row in rows]


async def test_every_node_serves_the_same_cases_and_the_balancer_serves_all(
    cluster: LocalCluster, engine: AsyncEngine
) -> None:
    manager = await staff(engine, Role.MANAGER)
    on_one = await signed_in(cluster, "node1", manager)
    try:
        made = await on_one.request("POST", "/api/applications", json=APPLICATION)
        assert made.status == 201, made.text
        application_id = made.body["id"]
        # The same session, through the other node and through the balancer.
        on_two = on_one.at(node_url(cluster, "node2"))
        balanced = on_one.at(URL(cluster.url))
        try:
            read = await on_two.request("GET", f"/api/applications/{application_id}")
            assert read.status == 200 and read.body["company_name"] == APPLICATION["company_name"]
            invited = await on_two.request("POST", f"/api/applications/{application_id}/invites")
            assert invited.status == 201, invited.text
            assert invited.body["link"].startswith(cluster.url)
            again = await balanced.request("GET", f"/api/applications/{application_id}")
            assert again.body["state"] == "invited"
        finally:
            await on_two.close()
            await balanced.close()
    finally:
        await on_one.close()
    for node in cluster.nodes:
        ready = node.readiness()
        assert ready["status"] == "ready", ready
        checks = ready["checks"]
        assert isinstance(checks, dict)
        assert checks["blob_store"]["kind"] == "S3BlobStore"
        assert checks["cluster"]["mode"] == "cluster"
        assert checks["identity_checks"]["workers"] == ["worker1"]


async def _case_in_interview(
    cluster: LocalCluster, engine: AsyncEngine
) -> tuple[str, Browser, Browser]:
    """A case whose call the manager accepted (through node 2); the applicant's
    browser opened its invitation through node 1."""
    manager_name = await staff(engine, Role.MANAGER)
    manager = await signed_in(cluster, "node2", manager_name)
    made = await manager.request("POST", "/api/applications", json=APPLICATION)
    application_id = made.body["id"]
    invited = await manager.request("POST", f"/api/applications/{application_id}/invites")
    applicant = Browser(node_url(cluster, "node1"))
    assert (await applicant.open_invite(invited.body["link"])).status == 303
    await apps.act(engine, SYSTEM_PRINCIPAL, application_id, Action.VERIFY_IDENTITY)
    accepted = await manager.request("POST", f"/api/applications/{application_id}/call")
    assert accepted.status == 200, accepted.text
    return application_id, applicant, manager


async def test_a_call_signalled_through_two_nodes_survives_its_nodes_death(
    cluster: LocalCluster, engine: AsyncEngine
) -> None:
    application_id, applicant, manager = await _case_in_interview(cluster, engine)
    nodes = [node_url(cluster, "node1"), node_url(cluster, "node2")]
    # The applicant signals through node 1, the manager through node 2.
    theirs = PageCall(applicant.session, nodes, application_id, node_index=0)
    ours = PageCall(manager.session, nodes, application_id, node_index=1)
    theirs.start()
    ours.start()
    try:
        await theirs.frames_after(30, within=40)
        await ours.frames_after(30, within=40)
        host = await _host_of(engine, application_id)
        survivor = "node2" if host == "node1" else "node1"
        # The open segments are kept in pieces as they are written.
        await _until_async(lambda: _pieces(engine, application_id), 30)
        killed_at = time.monotonic()
        cluster.node(host).kill()
        # Both pages get media again from the surviving node, within the grace period.
        await asyncio.gather(theirs.frames_after(30, within=60), ours.frames_after(30, within=60))
        resumed_after = time.monotonic() - killed_at
        assert await _host_of(engine, application_id) == survivor
        # The balancer has stopped sending anyone to the dead node.
        balanced = Browser(URL(cluster.url))
        try:
            for _ in range(4):
                assert (await balanced.request("GET", "/login")).status == 200
        finally:
            await balanced.close()
        actions = await audit_actions(engine, application_id)
        assert "call.node_lost" in actions, actions
        assert actions.count("call.connected") + actions.count("call.rejoined") >= 4, actions
        # Ending the call closes the segments open on the survivor; what the dead
        # node was writing was kept in pieces and joined again.
        on_survivor = manager.at(node_url(cluster, survivor))
        try:
            ended = await on_survivor.request("POST", f"/api/calls/{application_id}/end")
        finally:
            await on_survivor.close()
        assert ended.status == 200, ended.text
    finally:
        await theirs.close()
        await ours.close()
        await applicant.close()
        await manager.close()
        cluster.node(host).start()
    actions = await audit_actions(engine, application_id)
    assert actions.count("call.segment_recorded") >= 2, actions
    assert actions.count("call.segment_recovered") >= 1, actions
    recovered = await _details(engine, application_id, "call.segment_recovered")
    assert all(float(d["lost_seconds_at_most"]) < 15 for d in recovered), recovered
    # Every recording, from before and after the node's death, is in the bucket,
    # in the evidence package, and the package verifies offline.
    package = await _evidence(cluster, engine, application_id)
    names = zipfile.ZipFile(io.BytesIO(package)).namelist()
    recorded = await _details(engine, application_id, "call.segment_recorded")
    for details in [*recorded, *recovered]:
        assert f"recordings/{details['file']}" in names, (details["file"], names)
    target = cluster.root / f"{application_id}.zip"
    target.write_bytes(package)
    verdict = run_command(
        ["verify-evidence", str(target), "--trust", str(cluster.root / "root.pem")],
        cluster.command_env(),
    )
    assert verdict.rstrip().endswith("evidence package holds"), verdict
    assert resumed_after < 60


async def _host_of(engine: AsyncEngine, application_id: str) -> str:
    async with engine.connect() as conn:
        node: str = (
            await conn.execute(
                select(call_placements.c.node_id).where(
                    call_placements.c.application_id == application_id
                )
            )
        ).scalar_one()
    return node


async def _details(engine: AsyncEngine, application_id: str, action: str) -> list[dict[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.details).where(
                audit_log.c.application_id == application_id, audit_log.c.action == action
            )
        )
        return [json.loads(row.details) for row in rows]


async def _evidence(cluster: LocalCluster, engine: AsyncEngine, application_id: str) -> bytes:
    reviewer = await signed_in(cluster, "node1", await staff(engine, Role.COMPLIANCE))
    try:
        response = await reviewer.session.get(f"/api/applications/{application_id}/evidence.zip")
        assert response.status == 200, await response.text()
        return await response.read()
    finally:
        await reviewer.close()


async def _applicant_on(cluster: LocalCluster, engine: AsyncEngine, node: str) -> Browser:
    manager = await signed_in(cluster, node, await staff(engine, Role.MANAGER))
    try:
        made = await manager.request("POST", "/api/applications", json=APPLICATION)
        invited = await manager.request("POST", f"/api/applications/{made.body['id']}/invites")
    finally:
        await manager.close()
    applicant = Browser(node_url(cluster, node))
    assert (await applicant.open_invite(invited.body["link"])).status == 303
    consent = await applicant.request(
        "POST", "/api/applicant/consent", json={"recording": True, "data_use": True}
    )
    assert consent.status == 200, consent.text
    chosen = await applicant.request(
        "POST", "/api/applicant/consent/biometrics", json={"granted": True}
    )
    assert chosen.status == 200, chosen.text
    return applicant


async def test_a_worker_killed_mid_job_leaves_the_job_to_run_again_and_one_result(
    cluster: LocalCluster, engine: AsyncEngine
) -> None:
    """The read is asked for on node 1 and done by a worker that shares nothing with
    it but Redis, the blob store and the database; the worker dies mid-job, and the
    job runs again on the worker that takes its place."""
    applicant = await _applicant_on(cluster, engine, "node1")
    front, *_ = matching_documents()
    redis = Redis.from_url(cluster.env["SIGNROOM_REDIS_URL"], decode_responses=True)
    replacement = Worker("worker2", cluster.workers[0].env, cluster.root / "worker2.log")
    cluster.workers.append(replacement)
    try:
        reading = asyncio.create_task(upload(applicant, "id_front", front))
        async with asyncio.timeout(60):
            while not (running := await redis.keys("arq:in-progress:*")):  # noqa: ASYNC110 - another process's state
                await asyncio.sleep(0.02)
        [key] = running
        job_id = key.removeprefix("arq:in-progress:")
        cluster.workers[0].kill()
        async with engine.connect() as conn:
            stored = (
                await conn.execute(select(job_results).where(job_results.c.job_id == job_id))
            ).all()
        assert stored == [], "the job finished before its worker was killed"
        replacement.start()
        response = await asyncio.wait_for(reading, 150)
        assert response.status == 201, response.text
        assert response.body["fields"]["name"]["value"] == "张三"
        async with engine.connect() as conn:
            rows = (
                await conn.execute(select(job_results).where(job_results.c.job_id == job_id))
            ).all()
        assert [(row.worker, row.outcome) for row in rows] == [("worker2", "ok")]
        # The photo as sent (its metadata too) was the job's input only: gone with
        # the job, and never in the main store (which keeps the re-encoded image).
        settings = Settings.from_env(cluster.env)
        sent = hashlib.sha256(front).hexdigest()
        assert not await open_blob_store(settings, JOB_INPUTS).exists(sent)
        assert not await open_blob_store(settings).exists(sent)
    finally:
        await redis.aclose()
        await applicant.close()
        cluster.workers[0].start()


async def test_without_redis_nodes_stay_up_say_why_and_refuse_only_new_calls(
    cluster: LocalCluster, engine: AsyncEngine
) -> None:
    application_id, applicant, manager = await _case_in_interview(cluster, engine)
    host = node_url(cluster, await _host_of(engine, application_id))
    # Both pages on the hosting node: the call needs nothing shared to go on.
    theirs = PageCall(applicant.session, [host], application_id)
    ours = PageCall(manager.session, [host], application_id)
    theirs.start()
    ours.start()
    redis = cluster.redis
    assert redis is not None
    other_case, other_applicant, other_manager = None, None, None
    try:
        await theirs.frames_after(30, within=40)
        await ours.frames_after(30, within=40)
        other_case, other_applicant, other_manager = await _verified_case(cluster, engine)
        redis.stop()
        for node in cluster.nodes:
            await _until(answers(node, 503), 15)
            ready = node.readiness()
            assert "Redis" in str(ready["message"]), ready
            assert node.health("/healthz") == 200
        # The balancer still reaches the nodes that are alive.
        balanced = Browser(URL(cluster.url))
        try:
            assert (await balanced.request("GET", "/login")).status == 200
        finally:
            await balanced.close()
        await asyncio.gather(theirs.frames_after(30, within=30), ours.frames_after(30, within=30))
        refused = await other_manager.request("POST", f"/api/applications/{other_case}/call")
        assert refused.status == 503, refused.text
        assert refused.body["code"] == "coordination_unavailable", refused.body
        redis.start()
        for node in cluster.nodes:
            await _until(answers(node, 200), 30)
        accepted = await other_manager.request("POST", f"/api/applications/{other_case}/call")
        assert accepted.status == 200, accepted.text
        # Nothing moved while Redis was away: the call is where it was.
        assert node_url(cluster, await _host_of(engine, application_id)) == host
        assert "call.node_lost" not in await audit_actions(engine, application_id)
    finally:
        if not redis.process:
            redis.start()
        await theirs.close()
        await ours.close()
        for browser in (applicant, manager, other_applicant, other_manager):
            if browser is not None:
                await browser.close()


async def _verified_case(
    cluster: LocalCluster, engine: AsyncEngine
) -> tuple[str, Browser, Browser]:
    manager = await signed_in(cluster, "node1", await staff(engine, Role.MANAGER))
    made = await manager.request("POST", "/api/applications", json=APPLICATION)
    invited = await manager.request("POST", f"/api/applications/{made.body['id']}/invites")
    applicant = Browser(node_url(cluster, "node1"))
    assert (await applicant.open_invite(invited.body["link"])).status == 303
    await apps.act(engine, SYSTEM_PRINCIPAL, made.body["id"], Action.VERIFY_IDENTITY)
    return made.body["id"], applicant, manager


async def _hosted_by(engine: AsyncEngine, application_id: str, node: str) -> bool:
    return await _host_of(engine, application_id) == node


async def _pieces(engine: AsyncEngine, application_id: str) -> bool:
    async with engine.connect() as conn:
        sides = (
            await conn.execute(
                select(recording_chunks.c.side)
                .where(recording_chunks.c.application_id == application_id)
                .distinct()
            )
        ).all()
    return len(sides) == 2


async def _until_async(condition: Callable[[], Awaitable[bool]], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - another process's state
            await asyncio.sleep(0.3)


def answers(node: Node, status: int) -> Callable[[], bool]:
    return lambda: node.health() == status


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not await asyncio.to_thread(condition):  # noqa: ASYNC110 - another process's state
            await asyncio.sleep(0.3)


async def test_a_drained_node_hands_its_call_over_and_stops(
    cluster: LocalCluster, engine: AsyncEngine
) -> None:
    application_id, applicant, manager = await _case_in_interview(cluster, engine)
    host = await _host_of(engine, application_id)
    survivor = "node2" if host == "node1" else "node1"
    nodes = [node_url(cluster, host), node_url(cluster, survivor)]
    theirs = PageCall(applicant.session, nodes, application_id)
    ours = PageCall(manager.session, nodes, application_id, node_index=1)
    theirs.start()
    ours.start()
    try:
        await theirs.frames_after(30, within=40)
        await ours.frames_after(30, within=40)
        said = run_command(["node", "drain", host], cluster.command_env())
        assert f"node {host} drains" in said
        # After SIGNROOM_DRAIN_SECONDS the call moves; both pages carry on there.
        await _until_async(lambda: _hosted_by(engine, application_id, survivor), 30)
        await asyncio.gather(theirs.frames_after(30, within=60), ours.frames_after(30, within=60))
        actions = await audit_actions(engine, application_id)
        assert "call.moved" in actions and "call.node_lost" not in actions, actions
        drained = cluster.node(host).process
        assert drained is not None
        await asyncio.to_thread(drained.wait, 30)  # it stopped by itself
    finally:
        await theirs.close()
        await ours.close()
        await applicant.close()
        await manager.close()
        await asyncio.to_thread(cluster.node(host).start)
