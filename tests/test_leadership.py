"""The election on PostgreSQL: the lock's connection keeps itself alive both ways, and a holder gone
silent (its heartbeat stale, its session still open) is fenced off by a standby, which takes over."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update

from jobs.leader import Leadership
from storage.database import Database
from storage.tables import LeaderHeartbeat


async def nothing() -> None:
    return None


@pytest.fixture
async def two_replicas(db_target, database):
    dbs = [Database(db_target.url, schema=db_target.schema) for _ in range(2)]
    yield dbs
    for db in dbs:
        await db.close()


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_the_lock_connection_sends_keepalives_both_ways(two_replicas):
    leader = Leadership(two_replicas[0], on_gain=nothing, on_loss=nothing, retry_s=5)
    try:
        assert await leader.try_once()
        conn = leader._lock.conn
        assert conn is not None
        server = (await conn.execute(text("SELECT current_setting('tcp_keepalives_idle')"))).scalar()
        assert server == "5"  # PostgreSQL's default is two hours
        raw = await conn.get_raw_connection()
        sock = raw.driver_connection._transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) > 0
    finally:
        await leader.stop()


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_a_standby_fences_off_a_holder_whose_heartbeat_went_silent(two_replicas):
    lost: list[str] = []

    async def on_loss() -> None:
        lost.append("stepped down")

    first = Leadership(two_replicas[0], on_gain=nothing, on_loss=on_loss, retry_s=0.5)
    second = Leadership(two_replicas[1], on_gain=nothing, on_loss=nothing, retry_s=0.5)
    try:
        assert await first.try_once()
        assert not await second.try_once()  # the holder is well: the standby waits its turn
        async with two_replicas[1].write() as session:  # the holder falls silent (its session lingers)
            await session.exec(update(LeaderHeartbeat).values(seen_at=datetime.now(UTC) - timedelta(minutes=1)))
        assert await second.try_once()  # fenced off: its sessions ended, its lock freed
        first.start()  # the old holder's next check fails: it steps down
        for _ in range(100):
            if lost:
                break
            await asyncio.sleep(0.05)
        assert lost == ["stepped down"] and not first.is_leader
    finally:
        await first.stop()
        await second.stop()
