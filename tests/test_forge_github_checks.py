# ruff: noqa: F811 - the fixtures are imported, and pytest passes them in by name
"""The GitHub forge: what CI says of a commit (commit statuses and check runs), against a fake GitHub
over real HTTP; the fixtures are the forge tests'."""

from __future__ import annotations

import pytest

from commands.engine.ports import ForgeAuthError
from commands.rules.ci_status import Verdict
from tests.test_forge_github import forge, github, seeded  # noqa: F401 - fixtures


async def test_commit_checks_read_every_status_and_check_run(seeded, github):
    forge, sha = seeded.forge, seeded.shas[-1]
    github.max_per_page = 1  # both lists come in pages
    assert (await forge.commit_checks(sha)).state == "none"  # GitHub's combined state says "pending" here
    github.checks.status(sha, "ci/build", "success")
    github.checks.check_run(sha, "lint", "completed", "success")
    github.checks.check_run(sha, "e2e", "in_progress")
    assert await forge.commit_checks(sha) == Verdict("pending", "still running: e2e")
    github.checks.runs[sha].pop()
    github.checks.check_run(sha, "e2e", "completed", "skipped")
    assert await forge.commit_checks(sha) == Verdict("passed", "3 checks passed")
    github.checks.status(sha, "ci/build", "error")
    github.checks.check_run(sha, "fuzz", "completed", "timed_out")
    assert await forge.commit_checks(sha) == Verdict("failed", "failed: ci/build, fuzz")
    asked = [c.rel for c in github.calls if "commits/" in c.rel and c.rel.endswith(("/status", "/check-runs"))]
    assert f"commits/{sha}/check-runs" in asked and f"commits/{sha}/status" in asked


async def test_commit_checks_without_the_checks_permission_say_so(seeded, github):
    github.grant.permissions["checks"] = "none"
    with pytest.raises(ForgeAuthError):
        await seeded.forge.commit_checks(seeded.shas[-1])
