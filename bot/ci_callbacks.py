"""POST /hooks/ci: a CI reporting on a run Tower asked for.

A report is taken only when it is well-formed, fresh (five minutes), signed with the secret of the
project that owns the operation — HMAC-SHA256 over "timestamp.delivery.body" — and new: its
delivery id is recorded in the same transaction as its effect. Whatever project the body names,
the operation's owner decides which secret counts, so one project's secret never moves another's
deployments. A `tests.*` report is about a commit, not an operation: the project it names decides
the secret, and its verdict counts for that project's open release only. Every refusal is a 4xx
with one log line; nothing is applied before all checks pass.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import Any

from aiohttp import web

from bot.app import Tower
from bot.inbound import Malformed, digits, parse_json_object
from commands.engine.settings import ProjectSettings
from commands.rules.text import clean_strings, clean_text

log = logging.getLogger("tower.hooks")

WINDOW_S = 300
_EVENT = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
_SHA = re.compile(r"^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")  # a full SHA-1 or SHA-256 commit id


def signature(secret: str, stamp: str, delivery: str, raw: bytes) -> str:
    message = stamp.encode() + b"." + delivery.encode() + b"." + raw
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _refuse(status: int, error: str) -> web.Response:
    log.info("CI callback refused (%d): %s", status, error)
    return web.json_response({"error": error}, status=status)


async def ci_hook(request: web.Request, tower: Tower, on_change) -> web.Response:
    from commands.deploy.events import DUPLICATE, UnknownOperation, operation_owner, record_ci_event

    raw = await request.read()
    stamp, signed = request.headers.get("X-Tower-Timestamp", ""), request.headers.get("X-Tower-Signature", "")
    delivery = request.headers.get("X-Tower-Delivery", "")
    if not (stamp and signed and delivery):
        return _refuse(401, "signature, timestamp and delivery id are required")
    if not digits(stamp):
        return _refuse(401, "the timestamp must be Unix seconds")
    if abs(time.time() - int(stamp)) > WINDOW_S:
        return _refuse(401, "stale timestamp")
    if len(delivery) > 200 or not delivery.isprintable() or not delivery.isascii():
        return _refuse(400, "the delivery id must be printable ASCII of at most 200 characters")
    try:
        body = parse_json_object(raw)
    except Malformed as err:
        return _refuse(400, str(err))
    if isinstance(body.get("event"), str) and body["event"].startswith("tests."):
        return await _tests_hook(tower, body, (stamp, delivery, raw, signed), on_change)
    op = body.get("operation_id")
    if not isinstance(op, str) or not 0 < len(op) <= 200 or not op.isprintable():
        return _refuse(400, "operation_id must be a printable string of at most 200 characters")
    owner = await operation_owner(tower.services, op)
    project = tower.settings.project(owner) if owner else None
    if project is None or project.ci is None:
        return _refuse(404, "unknown operation id")
    refused = _unsigned(tower, project, stamp, delivery, raw, signed)
    if refused is not None:
        return refused
    named = body.get("project")
    if named is not None and named != owner:
        return _refuse(400, "the operation belongs to another project than the body names")
    problem = _malformed(body)
    if problem:
        return _refuse(400, problem)
    try:
        outcome = await record_ci_event(tower.services, clean_strings(body), delivery=delivery)
    except UnknownOperation:
        return _refuse(404, "unknown operation id")
    if outcome == DUPLICATE:
        return web.json_response({"status": "duplicate"})  # a retry of a report already taken
    on_change()
    return web.json_response({"status": "ok", "outcome": outcome})


def _unsigned(tower: Tower, project: ProjectSettings, stamp: str, delivery: str, raw: bytes, signed: str):
    """The refusal, unless the report is signed with the project's own secret."""
    secret = tower.secrets.get(project.ci.secret_env or "") if project.ci else None
    if not secret:
        return _refuse(403, "callbacks are not enabled for this project (ci.secret_env)")
    if not hmac.compare_digest(signature(secret, stamp, delivery, raw).encode(), signed.encode()):
        return _refuse(401, "bad signature")
    return None


async def _tests_hook(tower: Tower, body: dict[str, Any], envelope: tuple[str, str, bytes, str], on_change):
    """`tests.passed|failed|pending` about a commit of a local repository, from the project's own CI:
    no operation to own it, so the project the body names decides which secret must sign it, and
    the verdict counts only for that project's open release."""
    from commands.scope.tests_green import REPORTED, NoOpenRelease, record_report

    stamp, delivery, raw, signed = envelope
    key = body.get("project")
    project = tower.settings.project(key) if isinstance(key, str) else None
    if project is None:
        return _refuse(404, "unknown project")
    if project.forge != "local":
        return _refuse(400, f"{project.forge} reports the commit's tests itself; Tower asks it")
    refused = _unsigned(tower, project, stamp, delivery, raw, signed)
    if refused is not None:
        return refused
    if body["event"] not in REPORTED:
        return _refuse(400, f"event must be one of {', '.join(REPORTED)}")
    sha = body.get("commit")
    if not isinstance(sha, str) or not _SHA.match(sha):
        return _refuse(400, "commit must be the full hexadecimal id of a commit")
    detail = body.get("detail")
    if detail is not None and not isinstance(detail, str):
        return _refuse(400, "detail must be a string")
    clean = clean_text(detail) if detail else None
    try:
        outcome = await record_report(tower.services, project, body["event"], sha.lower(), clean, delivery)
    except NoOpenRelease:
        return _refuse(409, f"{project.key} has no open release; nothing was recorded")
    if outcome is None:
        return web.json_response({"status": "duplicate"})
    on_change()
    return web.json_response({"status": "ok", "outcome": outcome})


def _malformed(body: dict[str, Any]) -> str | None:
    """What is wrong with a signed report's shape, before anything is applied; None if nothing."""
    if not isinstance(body.get("event"), str) or not _EVENT.match(body["event"]):
        return "event must be a lowercase word such as deploy.succeeded, smoke.failed or acceptance"
    for name in ("run_url", "log_url", "archive_url", "archive", "detail", "failure", "status", "name", "outcome"):
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} must be a string"
    results = body.get("results")
    if results is not None:
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            return "results must be a list of objects"
        for result in results:
            if not isinstance(result.get("test"), str) or not 0 < len(result["test"]) <= 200:
                return "each result needs a test id (a string of at most 200 characters)"
            if not isinstance(result.get("outcome", ""), str) or not isinstance(result.get("url") or "", str):
                return "a result's outcome and url must be strings"
    return None
