"""Command references in replies, written per platform: what is rewritten and what is left alone."""

from bot.platforms.discord_render import option_form
from bot.platforms.slack import runnable
from commands.catalog import build_registry
from commands.engine.references import localize
from commands.engine.reply import Button, Field, Reply


def test_slack_rewrites_every_part_of_a_reply_but_the_buttons_and_what_names_no_command():
    reply = Reply(
        text="See `/release status demo#1`; Slack posts to `/slack/events`.",
        fields=[Field("Example", "`/help release abort`")],
        sections=["`/whoami` — who you are"],
        footer="Type `/help COMMAND`.",
        buttons=[Button("Status", "/release status demo#1")],
    )
    shown = localize(reply, runnable(build_registry(), "t-"))
    assert shown.text == "See `/t-release status demo#1`; Slack posts to `/slack/events`."
    assert shown.fields == [Field("Example", "`/t-tower help release abort`")]
    assert shown.sections == ["`/t-whoami` — who you are"]
    assert shown.footer == "Type `/t-tower help COMMAND`."
    assert shown.buttons == [Button("Status", "/release status demo#1")]  # a button runs the one grammar
    assert reply.text.startswith("See `/release")  # the reply itself is unchanged


def test_discord_writes_the_option_form_and_leaves_what_no_command_takes():
    show = option_form(build_registry())
    assert show('/release abort demo --reason "wrong branch"') == "/release abort release:demo reason:wrong branch"
    assert show("/release list [PROJECT] [--all]") == "/release list [project:PROJECT] [all:True]"
    assert show('/checklist add demo "Security review" --before ship') == (
        "/checklist add release:demo text:Security review before:ship"
    )
    assert show("/help release new") == "/help command:release new"
    for unchanged in ("/release fly demo", "/rotation", "/release status demo --colour red", '/release "open'):
        assert show(unchanged) == unchanged
