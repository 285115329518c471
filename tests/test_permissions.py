"""Who may run what, decided by Tower from config, and refusals that change nothing."""

from tests.support import run, slack, snapshot


async def test_only_release_managers_open_releases(tower):
    before = await snapshot(tower.services.db)
    reply = await run(tower, "/release new demo", as_="bob")
    assert not reply.ok
    assert reply.text == "Only release managers (alice) may run `/release new`; you are bob."
    assert await snapshot(tower.services.db) == before


async def test_only_the_pilot_or_release_managers_abort(tower):
    await run(tower, "/release new demo")
    before = await snapshot(tower.services.db)
    reply = await run(tower, "/release abort demo --reason mine", as_="jane")
    assert not reply.ok and "Only the pilot or release managers (alice)" in reply.text
    assert await snapshot(tower.services.db) == before


async def test_project_release_managers_manage_only_their_project(tmp_path, db_target, clock):
    from bot.app import open_tower
    from tests.support import make_settings

    settings = make_settings(tmp_path / "d")
    data = settings.model_dump()
    data["projects"]["demo"]["release_managers"] = ["bob"]
    data["projects"]["other"] = {**data["projects"]["demo"], "key": "other", "release_managers": []}
    from commands.engine.settings import Settings

    tower = await open_tower(Settings.model_validate(data), db_target.env(), clock=clock)
    try:
        assert (await run(tower, "/release new demo", as_="bob")).ok
        refused = await run(tower, "/release new other", as_="bob")
        assert not refused.ok and "Only release managers (alice)" in refused.text
    finally:
        await tower.close()


async def test_unknown_chat_users_may_read_but_not_change(tower):
    await run(tower, "/release new demo")
    stranger = slack("U0STRANGER")
    assert (await run(tower, "/release status demo", caller=stranger)).ok
    assert (await run(tower, "/release list", caller=stranger)).ok
    before = await snapshot(tower.services.db)
    reply = await run(tower, "/release abort demo --reason hijack", caller=stranger)
    assert not reply.ok and "Tower doesn't know you" in reply.text
    assert await snapshot(tower.services.db) == before


async def test_a_known_slack_user_acts_as_their_person(tower):
    reply = await run(tower, "/release new demo", caller=slack("U0DEMOALICE"))
    assert reply.ok
    from storage.queries import audit

    async with tower.services.db.read() as s:
        (entry,) = await audit.entries(s)
    assert (entry.actor, entry.platform, entry.channel) == ("alice", "slack", "slack:C0TEAM001")
    assert entry.actor_id is not None


async def test_a_guest_in_the_shell_is_read_only(tower):
    reply = await run(tower, "/release new demo", as_=None)
    assert not reply.ok and "Tower doesn't know you" in reply.text
    assert (await run(tower, "/help", as_=None)).ok
