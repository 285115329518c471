"""`tower check-config --online` on GitHub: may the token do what Tower does in the repository, and does
the deploy workflow let Tower start and find its runs. Nothing changes: a write permission is probed
with a request GitHub refuses for the permission (403, or 404 where the token can't see it) before it
reads the body, and otherwise rejects as invalid (422); `contents: write` by storing the empty blob,
which nothing references."""

from __future__ import annotations

import base64
import re

from bot.integrations.ci_github import INPUTS, RUN_NAME
from bot.integrations.findings import Finding, fail, note, ok
from bot.integrations.http import ApiClient

OBJECT = "application/vnd.github.object+json"


async def check_repository(api: ApiClient, repository: str, token_env: str) -> list[Finding]:
    """The forge: contents write (commits, tags, releases) and issues write (the release issue)."""
    answer = await api.request("GET", f"repos/{repository}", ok=(404,))
    if answer.status_code == 404:
        return [fail(f"{token_env} can't see {repository}: check the repository in tower.toml and the token's access.")]
    repo, findings = answer.json(), []
    if (scopes := answer.headers.get("x-oauth-scopes")) is not None:  # a classic token says its scopes
        have = {s.strip() for s in scopes.split(",")}
        if not have & ({"repo"} if repo.get("private") else {"repo", "public_repo"}):
            findings.append(
                fail(f"{token_env} is a classic token without the repo scope (it has: {scopes or 'none'}).")
            )
    empty_blob = await api.request(
        "POST", f"repos/{repository}/git/blobs", json={"content": "", "encoding": "utf-8"}, ok=(403, 404, 422)
    )
    if empty_blob.status_code == 201:
        findings.append(ok(f"{token_env} may write {repository}'s contents (commits, tags, releases)."))
    else:
        findings.append(fail(f'{token_env} may not write {repository}\'s contents: it needs "contents: write".'))
    if not repo.get("has_issues", True):
        findings.append(note(f"{repository} has issues turned off: Tower keeps the checklist to itself."))
    elif await _may(api, f"repos/{repository}/issues", {}):  # no title: invalid
        findings.append(ok(f"{token_env} may open and edit issues (the release issue)."))
    else:
        findings.append(fail(f'{token_env} may not open issues in {repository}: it needs "issues: write".'))
    return findings


async def check_workflow(api: ApiClient, repository: str, workflow: str, ref: str, token_env: str) -> list[Finding]:
    """The CI: the workflow exists and is active, the token may dispatch it, the server returns the run
    it starts, and the workflow declares Tower's inputs and a run-name that finds a run after a lost answer."""
    answer = await api.request("GET", f"repos/{repository}/actions/workflows/{workflow}", ok=(404,))
    if answer.status_code == 404:
        return [fail(f"{repository} has no workflow {workflow!r} that {token_env} can see: check ci.workflow.")]
    found = answer.json()
    if found.get("state") != "active":
        return [fail(f"The workflow {workflow} is {found.get('state')}: enable it in {repository}'s Actions tab.")]
    findings = []
    if await _may(api, f"repos/{repository}/actions/workflows/{workflow}/dispatches", {}):  # no ref: invalid
        findings.append(ok(f"{token_env} may start {workflow} (actions: write)."))
    else:
        findings.append(fail(f'{token_env} may not start {workflow}: it needs "actions: write".'))
    meta = (await api.request("GET", "meta")).json()
    enterprise = meta.get("installed_version") if isinstance(meta, dict) else None
    if enterprise:
        findings.append(
            note(
                f"GitHub Enterprise Server {enterprise}: if it answers a dispatch without the run "
                "(return_run_details), Tower finds the run by its run-name."
            )
        )
    else:
        findings.append(ok("GitHub answers each dispatch with the run it started (return_run_details)."))
    text = await _workflow_text(api, repository, found.get("path") or f".github/workflows/{workflow}", ref)
    return findings + _workflow_findings(text, workflow, ref)


async def _may(api: ApiClient, path: str, invalid_body: dict) -> bool:
    answer = await api.request("POST", path, json=invalid_body, ok=(403, 404, 422), idempotent=True)
    return answer.status_code not in (403, 404)


async def _workflow_text(api: ApiClient, repository: str, path: str, ref: str) -> str | None:
    answer = await api.request(
        "GET", f"repos/{repository}/contents/{path}", params={"ref": ref}, headers={"Accept": OBJECT}, ok=(404,)
    )
    item = answer.json() if answer.status_code == 200 else {}
    if item.get("encoding") != "base64":
        return None
    return base64.b64decode(item["content"]).decode("utf-8", errors="replace")


def _workflow_findings(text: str | None, workflow: str, ref: str) -> list[Finding]:
    """What the workflow file says, read as text (its keys, not a YAML parse)."""
    if text is None:
        return [note(f"Can't read {workflow} on {ref!r} to check its inputs and run-name.")]
    findings = []
    missing = [name for name in INPUTS if not re.search(rf"^\s+{name}:", text, re.MULTILINE)]
    if "workflow_dispatch" not in text or missing:
        what = f"the inputs {', '.join(missing)}" if missing else "a workflow_dispatch trigger"
        findings.append(fail(f"{workflow} on {ref!r} lacks {what}: GitHub will refuse Tower's dispatches."))
    if re.search(r"^run-name:.*inputs\.operation_id", text, re.MULTILINE):
        findings.append(ok(f"{workflow}'s run-name carries the operation id: a run is found even after a lost answer."))
    else:
        findings.append(
            fail(
                f"{workflow} has no run-name with the operation id: after a lost answer Tower can't find the run "
                f"(and on a server without run details, any run). Add `{RUN_NAME}`."
            )
        )
    return findings
