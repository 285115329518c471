"""A PostgreSQL connection a replica keeps for itself, outside the pool, with keepalives both ways.

The election lock lives on one, the courier's claims on another: the session *is* the holder, so
when the process dies (or a standby fences it) PostgreSQL ends the session and the lock or the
claims are free at once. Keepalives and a TCP user timeout on the client socket, and the same on
the server's side of the session, make a silent network partition end the session in seconds
instead of the kernel's two hours.
"""

from __future__ import annotations

import asyncio
import socket

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from storage.database import Database


def keepalive_settings(seconds: float) -> dict[str, str]:
    """Server-side session settings: probe an idle client after `seconds`, give up after ~3 more."""
    idle = max(1, round(seconds))
    return {
        "tcp_keepalives_idle": str(idle),
        "tcp_keepalives_interval": str(idle),
        "tcp_keepalives_count": "3",
        "tcp_user_timeout": str(int(seconds * 4 * 1000)),  # milliseconds
    }


def held_engine(db: Database, seconds: float) -> AsyncEngine:
    """An engine of single connections for `db`'s server, its sessions named like the pool's."""
    server_settings = {**db.server_settings(), **keepalive_settings(seconds)}
    return create_async_engine(
        db.url, poolclass=NullPool, connect_args={"timeout": max(1.0, seconds * 2), "server_settings": server_settings}
    )


async def held_connection(engine: AsyncEngine, seconds: float) -> AsyncConnection:
    """A new autocommit connection whose socket sends keepalives and times out unanswered writes."""
    conn = await (await engine.connect()).execution_options(isolation_level="AUTOCOMMIT")
    raw = await conn.get_raw_connection()
    transport = getattr(raw.driver_connection, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        set_keepalives(sock, seconds)
    return conn


def set_keepalives(sock: socket.socket, seconds: float) -> None:
    idle = max(1, round(seconds))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", idle),
        ("TCP_KEEPINTVL", idle),
        ("TCP_KEEPCNT", 3),
        ("TCP_USER_TIMEOUT", int(seconds * 4 * 1000)),
    ):
        if hasattr(socket, option):  # Linux has them all; other systems some
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


async def close_held(conn: AsyncConnection, timeout_s: float, goodbye: str | None = None) -> None:
    """Close politely (running `goodbye` first) if the server answers within `timeout_s`; otherwise
    (a partition) drop the socket without waiting for an answer that will not come."""
    try:
        async with asyncio.timeout(timeout_s):
            if goodbye is not None:
                await conn.execute(text(goodbye))
            await conn.close()
    except BaseException:
        try:
            raw = conn.sync_connection.connection.dbapi_connection if conn.sync_connection else None
            driver = getattr(raw, "driver_connection", None)
            if driver is not None:
                driver.terminate()
        except Exception:
            pass
