"""Replicas: several `tower run` processes on one database. One runs the scheduler; when it is
killed outright another takes over; the probes and /metrics say which is which."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy.engine import make_url

from tests.fakes.tcp_proxy import OutageProxy
from tests.replicas import ReplicaProcess, leader_of, wait_for_one_leader
from tests.shell_process import tower_env


def test_one_replica_runs_the_scheduler_and_another_takes_over_when_it_is_killed(tmp_path, db_target):
    env = tower_env(tmp_path / "data", {"TOWER_ELECTION_SECONDS": "0.5", **db_target.env()})
    replicas = [ReplicaProcess(name, tmp_path, env) for name in ("a", "b")]
    try:
        for replica in replicas:
            assert replica.wait_up()["status"] == "ok"
        leader, _ = wait_for_one_leader(replicas)
        (standby,) = [r for r in replicas if r is not leader]
        assert standby.health() == {"status": "ok", "database": "ok", "scheduler": "standby"}
        assert leader.metric("tower_scheduler_leader") == 1 and standby.metric("tower_scheduler_leader") == 0

        leader.kill()
        took_over, seconds = wait_for_one_leader([standby], timeout=30)
        assert took_over is standby and seconds < 30
        assert standby.metric("tower_scheduler_leader") == 1

        again = ReplicaProcess("a2", tmp_path, env)  # the dead one comes back: it waits its turn
        replicas.append(again)
        again.wait_up()
        time.sleep(1.5)  # three ballots
        assert again.health()["scheduler"] == "standby" and leader_of(replicas) == [standby]
    finally:
        codes = {r.name: r.stop() for r in replicas}
    assert codes[leader.name] == -9 and [c for n, c in codes.items() if n != leader.name] == [0, 0], codes
    for replica in replicas:
        assert "Traceback" not in replica.errors(), replica.errors()


def test_a_replica_that_stops_cleanly_hands_over_at_once(tmp_path, db_target):
    env = tower_env(tmp_path / "data", {"TOWER_ELECTION_SECONDS": "0.5", **db_target.env()})
    replicas = [ReplicaProcess(name, tmp_path, env) for name in ("a", "b")]
    try:
        for replica in replicas:
            replica.wait_up()
        leader, _ = wait_for_one_leader(replicas)
        assert leader.stop() == 0
        assert "no longer holds the scheduler role: shutting down" in leader.errors()
        (other,) = [r for r in replicas if r is not leader]
        _, seconds = wait_for_one_leader([other], timeout=10)
        assert seconds < 5
    finally:
        for replica in replicas:
            replica.stop()


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_after_the_database_comes_back_there_is_again_exactly_one_leader(tmp_path, db_target):
    real = make_url(db_target.url)
    async with OutageProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        url = real.set(port=proxy.port).render_as_string(hide_password=False)
        env = tower_env(
            tmp_path / "data", {"TOWER_ELECTION_SECONDS": "0.5", **db_target.env(), "TOWER_DATABASE_URL": url}
        )
        replicas = [ReplicaProcess(name, tmp_path, env) for name in ("a", "b")]
        try:
            for replica in replicas:
                await asyncio.to_thread(replica.wait_up)
            await asyncio.to_thread(wait_for_one_leader, replicas)
            await proxy.outage()
            await asyncio.sleep(2.0)
            for replica in replicas:
                status, body = await asyncio.to_thread(replica.get, "/readyz")
                assert status == 503 and json.loads(body)["status"] == "unready"
                assert (await asyncio.to_thread(replica.health))["status"] == "unhealthy"
            await proxy.restore()
            _, _seconds = await asyncio.to_thread(wait_for_one_leader, replicas, 30)
            for replica in replicas:
                assert (await asyncio.to_thread(replica.get, "/readyz"))[0] == 200
        finally:
            codes = [await asyncio.to_thread(r.stop) for r in replicas]
    assert codes == [0, 0], [r.errors() for r in replicas]
    logs = "".join(r.errors() for r in replicas)
    assert "Traceback" not in logs, logs
