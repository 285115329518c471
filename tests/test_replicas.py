"""Replicas: several `tower run` processes on one database. One runs the scheduler; when it is
killed outright another takes over; the probes and /metrics say which is which."""

from __future__ import annotations

import time

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
