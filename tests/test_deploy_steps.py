"""Post-deploy steps belong to their deployment (the local CI ticks one with `tower-step: NAME`), a
retirement records where the logs went (`tower-archive: LOCATION`), a failed retirement leaves the
deployment live to be tried again, and one stuck retiring is reconciled."""

from __future__ import annotations

from bot.integrations.local_runs import STOPPED
from bot.pages.html import release_page
from bot.pages.site import release_json
from commands.deploy.reconcile import reconcile
from storage.queries import deploys, local_runs, scope
from tests.deploy_support import ready_to_deploy, settle
from tests.support import run

STEPS = ["Explorer updated", "Dashboard updated"]


async def deployment(tower, number: int = 1):
    async with tower.services.db.read() as s:
        return (await deploys.of_release(s, 1))[number - 1]


async def test_the_local_ci_ticks_a_step_from_its_output(tmp_path, db_target, clock):
    tower = await ready_to_deploy(
        tmp_path,
        db_target,
        clock,
        ci={"command": "echo deploying; echo 'tower-step: Explorer updated'; echo 'tower-step: Nope'"},
        post_deploy_steps=STEPS,
    )
    try:
        assert (await run(tower, "/deploy start demo")).ok
        await settle(tower)
        lines = (await run(tower, "/checklist show demo")).sections[0].splitlines()
        assert "[x] 6. Explorer updated (v1.3.0-rc1 on production) (before ship) — ci, 2026-11-20 09:00 UTC" in lines
        assert "[ ] 7. Dashboard updated (v1.3.0-rc1 on production) (before ship)" in lines
        async with tower.services.db.read() as s:
            items = [i for i in await scope.checklist(s, 1) if i.seq > 5]
        assert {i.deployment_id for i in items} == {1}
        shipping = await run(tower, "/release ship demo")
        assert not shipping.ok and "7. Dashboard updated (v1.3.0-rc1 on production)" in shipping.text
    finally:
        await tower.close()


async def test_the_steps_of_a_failed_deployment_are_void_and_block_nothing(tmp_path, db_target, clock):
    tower = await ready_to_deploy(tmp_path, db_target, clock, ci={"command": "exit 1"}, post_deploy_steps=STEPS[:1])
    try:
        await run(tower, "/deploy start demo")
        await settle(tower)
        reply = await run(tower, "/checklist show demo")
        assert (
            "[ ] 6. ~Explorer updated (v1.3.0-rc1 on production)~ (before ship) — void — deployment 1 failed"
            in (reply.sections[0])
        )
        assert reply.footer == "Shipping waits for 5."  # the simmer, not the void step
        refused = await run(tower, "/checklist check demo 6")
        assert not refused.ok and "is void — deployment 1 failed: it no longer counts" in refused.text
        data = await release_json(tower.services, "demo", "1.3.0")
        assert data["checklist"][5]["void"] == "void — deployment 1 failed"
        assert "<s>Explorer updated (v1.3.0-rc1 on production)</s>" in release_page(data)
    finally:
        await tower.close()


async def test_a_retirement_records_where_the_logs_went(tmp_path, db_target, clock):
    tower = await ready_to_deploy(
        tmp_path,
        db_target,
        clock,
        ci={"retire_command": 'echo stopping; echo "tower-archive: s3://logs/demo/$TOWER_TAG.tar.gz"'},
    )
    try:
        assert (await run(tower, "/deploy start demo")).ok
        await settle(tower)
        assert (await run(tower, "/deploy retire demo")).ok
        await settle(tower)
        retired = await deployment(tower)
        assert retired.state == "retired" and retired.archive_url == "s3://logs/demo/v1.3.0-rc1.tar.gz"
        status = (await run(tower, "/deploy status demo")).sections[0]
        assert status.endswith("retired (2026-11-20 09:00 UTC) — logs archived: s3://logs/demo/v1.3.0-rc1.tar.gz")
        data = await release_json(tower.services, "demo", "1.3.0")
        assert data["deployments"][0]["archive"] == "s3://logs/demo/v1.3.0-rc1.tar.gz"
        assert "archive: s3://logs/demo/v1.3.0-rc1.tar.gz" in release_page(data)
    finally:
        await tower.close()


async def test_a_failed_retirement_leaves_it_live_to_be_retired_again(tmp_path, db_target, clock):
    # The first attempt fails (the archive is full), the second succeeds.
    retire = (
        "if [ -f tried ]; then echo 'tower-archive: /srv/archive/demo'; else touch tried; echo archive full; exit 1; fi"
    )
    tower = await ready_to_deploy(tmp_path, db_target, clock, ci={"retire_command": retire})
    try:
        assert (await run(tower, "/deploy start demo")).ok
        await settle(tower)
        assert (await run(tower, "/deploy retire demo")).ok
        await settle(tower)
        failed = await deployment(tower)
        assert failed.state == "live" and failed.failure == "retire failed: archive full"
        assert (
            "live (2026-11-20 09:00 UTC) — retire failed: archive full"
            in (await run(tower, "/deploy status demo")).sections[0]
        )
        first = failed.retire_operation_id
        assert (await run(tower, "/deploy retire demo")).ok  # tried again, as a new operation
        await settle(tower)
        retired = await deployment(tower)
        assert retired.state == "retired" and retired.archive_url == "/srv/archive/demo" and retired.failure is None
        assert retired.retire_operation_id != first
    finally:
        await tower.close()


async def test_a_retirement_whose_process_stopped_is_reconciled(tmp_path, db_target, clock):
    tower = await ready_to_deploy(tmp_path, db_target, clock, ci={"retire_command": "true"})
    try:
        assert (await run(tower, "/deploy start demo")).ok
        await settle(tower)
        live = await deployment(tower)
        # Another Tower process took the retirement on and died: its run is recorded, its heartbeat stale.
        async with tower.services.db.write() as s:
            await deploys.move(s, live.id, ("live",), "retiring", retire_operation_id="tower-demo-1-retire-x")
            await local_runs.claim(
                s,
                operation_id="tower-demo-1-retire-x",
                pipeline="retire",
                pid=999_999_999,  # no such process on this machine
                host=tower.cis.book.host,
                token="gone",
                now=clock.now(),
            )
        assert await reconcile(tower.services) == 1
        back = await deployment(tower)
        assert back.state == "live" and back.failure == f"retire failed: {STOPPED}"
    finally:
        await tower.close()
