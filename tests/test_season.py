"""A season: one project through five consecutive releases on a rehearsal clock (a day every eight
seconds), with alice and bob each acting from shells of their own beside `tower run`, which ticks
the scheduler. Each release is named from new changelog entries, cut, deployed by the local CI,
simmered, shipped and announced, and the one before it retired. Then git, the pipelines, the
reports, the announcements and the pages are checked."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

from sqlmodel import select

from bot.integrations.forge_local import LocalGitForge
from storage.queries import deploys, releases
from storage.tables import LocalRun, OutboundMessage
from tests.git_repos import git
from tests.process_support import database, until
from tests.release_repos import repo_settings
from tests.replicas import ReplicaProcess
from tests.shell_process import run_tower, tower_env
from tests.toml_out import dumps

START = datetime(2026, 11, 2, 8, tzinfo=UTC)  # a Monday morning
DAY_S = 8.0  # real seconds per rehearsed day
RELEASES = 5
VERSIONS = [f"1.3.{k}" for k in range(RELEASES)]  # 1.3.0 from the first entries, then a fix each
CI = {
    "provider": "local",
    "command": "echo deployed $TOWER_TAG >> deploys.log",
    "retire_command": 'echo retired $TOWER_TAG >> deploys.log; echo "tower-archive: /archive/$TOWER_TAG"',
}


def settings_file(tmp_path):
    settings, _ = repo_settings(
        tmp_path,
        ci=CI,
        checklist=[],
        roster=["bob", "jane"],
        simmer_days=2,
        report_time="09:00",
        retire_after_days=0,
        all_clear_days=1,
        post_deploy_steps=[],
    )
    config = tmp_path / "tower.toml"
    config.write_text(dumps(settings.model_dump(exclude={"source", "data_dir"})))
    return config


def shell(config, env, tmp_path, person: str, *commands: str) -> str:
    """One person's shell: the commands piped in, each of which must succeed."""
    done = run_tower(
        ["--config", str(config), "shell", "--as", person], tmp_path, env, stdin="\n".join(commands) + "\n", timeout=120
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, f"{person}: {done.stderr}\n{done.stdout}"
    return done.stdout


async def add_changelog_entry(repo, number: int) -> None:
    """A developer lands a fix with its changelog entry on main, where the next cycle starts."""
    forge = LocalGitForge(repo)
    head = await forge.head("main")
    assert head is not None
    text = await forge.read_file("CHANGELOG.md", head.sha)
    assert text is not None
    text = text.replace("## [Unreleased]\n", f"## [Unreleased]\n\n### Fixed\n\n- Fix number {number}.\n", 1)
    await forge.commit_files("main", f"fix: number {number}", {"CHANGELOG.md": text}, parent_sha=head.sha)
    await forge.close()


async def release_row(db, number: int):
    async with db.read() as s:
        return await releases.by_number(s, 1, number)


async def test_five_releases_in_a_season(tmp_path, db_target):
    config = settings_file(tmp_path)
    repo = tmp_path / "repo.git"
    env = tower_env(
        tmp_path / "data",
        {
            **db_target.env(),
            "TOWER_REHEARSAL_CLOCK": f"{START.isoformat()} {time.time():.3f} {86400 / DAY_S}",
            "TOWER_TICK_SECONDS": "0.2",
        },
    )
    db = database(db_target)
    runner = ReplicaProcess("run", tmp_path, env, config)
    try:
        await asyncio.to_thread(runner.wait_up)
        for k in range(1, RELEASES + 1):
            if k > 1:
                await add_changelog_entry(repo, k)
            named = await asyncio.to_thread(
                shell,
                config,
                env,
                tmp_path,
                "alice",
                "/release new demo",
                "/rotation assign demo",
                "/release name demo --yes",
                "/scope freeze demo",
            )
            assert f"Named demo {VERSIONS[k - 1]}" in named, named
            tag = f"v{VERSIONS[k - 1]}-rc1"
            deployed = await asyncio.to_thread(
                shell, config, env, tmp_path, "bob", "/rc cut demo", "/deploy start demo"
            )
            assert f"Cut {tag}" in deployed and f"Deploying {tag} to production." in deployed, deployed

            async def simmered(k=k) -> bool:
                async with db.read() as s:
                    simmer = await deploys.simmer_of(s, (await release_row(db, k)).id)
                return simmer is not None and simmer.state == "passed"

            await until(simmered, timeout=4 * DAY_S + 30, every=0.2)
            shipped = await asyncio.to_thread(shell, config, env, tmp_path, "alice", "/release ship demo")
            assert f"Shipped demo {VERSIONS[k - 1]}." in shipped, shipped
            if k > 1:

                async def retired(k=k) -> bool:
                    return (await release_row(db, k - 1)).state == "retired"

                await until(retired, timeout=60, every=0.2)
        # The scheduler's replica saw it all through without a failure of its own.
        assert "Traceback" not in runner.errors(), runner.errors()
        await check_the_season(tmp_path, repo, config, env, db)
    finally:
        code = await asyncio.to_thread(runner.stop)
        await db.close()
    assert code == 0, runner.errors()


async def check_the_season(tmp_path, repo, config, env, db) -> None:
    # Git: a release commit on the release branch, a candidate and a final tag on it, per release.
    for version in VERSIONS:
        subjects = git(repo, "log", f"v{version}", "--format=%s").splitlines()
        assert subjects.count(f"Releasing v{version}") == 1, subjects
        final, candidate = git(repo, "rev-parse", f"v{version}^{{commit}}", f"v{version}-rc1^{{commit}}").split()
        assert final == candidate
        assert f"## [{version}]" in git(repo, "show", f"v{version}:CHANGELOG.md")
    tags = git(repo, "tag", "--list", "v1.3.*").split()
    assert sorted(tags) == sorted([f"v{v}" for v in VERSIONS] + [f"v{v}-rc1" for v in VERSIONS])
    assert {b.strip("* ") for b in git(repo, "branch", "--list").splitlines()} == {"main", "release"}
    # Main took each released changelog back, so the next cycle read only what came after.
    on_main = git(repo, "show", "main:CHANGELOG.md")
    assert all(f"## [{v}]" in on_main for v in VERSIONS) and "Fix number" not in on_main.split("## [")[1], on_main

    # One pipeline per deploy, one retirement per earlier release, each recorded once.
    log = (tmp_path / "data" / "ci" / "demo" / "deploys.log").read_text().splitlines()
    assert [line for line in log if line.startswith("deployed")] == [f"deployed v{v}-rc1" for v in VERSIONS]
    assert [line for line in log if line.startswith("retired")] == [f"retired v{v}-rc1" for v in VERSIONS[:-1]]
    async with db.read() as s:
        runs = (await s.exec(select(LocalRun))).all()
        posts = (await s.exec(select(OutboundMessage))).all()
    assert sorted((r.pipeline, r.status) for r in runs if r.pipeline != "integrate") == sorted(
        [("deploy", "succeeded")] * RELEASES + [("retire", "succeeded")] * (RELEASES - 1)
    )

    # One report per simmer day; one announcement per release.
    texts = [(p.channel, p.key, json.loads(p.payload)["text"]) for p in posts]
    for version in VERSIONS:
        reports = [key for channel, key, text in texts if text.startswith(f"Simmer report for demo {version}")]
        days = [key.split(":report:")[1] for key in reports]
        assert 1 <= len(reports) <= 2 and len(set(days)) == len(days), reports
        announced = [t for c, _, t in texts if c == "console:announce" and f" {version} is out." in t]
        assert len(announced) == 1, announced

    # The pages, built at the end.
    site = tmp_path / "site"
    built = run_tower(["--config", str(config), "pages", "build", str(site)], tmp_path, env)
    assert built.returncode == 0, built.stderr
    index = (site / "index.html").read_text()
    assert "demo 1.3.4" in index
    for version in VERSIONS:
        data = json.loads((site / "releases" / "demo" / f"{version}.json").read_text())
        (deployment,) = data["deployments"]
        if version == VERSIONS[-1]:
            assert data["release"]["state"] == "released" and deployment["state"] == "live"
        else:
            assert data["release"]["state"] == "retired" and deployment["state"] == "retired"
            assert deployment["archive"] == f"/archive/v{version}-rc1"
            page = (site / "releases" / "demo" / f"{version}.html").read_text()
            assert f"archive: /archive/v{version}-rc1" in page
