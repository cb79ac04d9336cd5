"""The app manifest in the repo sends everything the bot listens to, to the route that serves it."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "slack-manifest.yaml"


def test_manifest_routes_everything_to_slack_events():
    m = yaml.safe_load(MANIFEST.read_text())
    urls = [c["url"] for c in m["features"]["slash_commands"]]
    urls += [m["settings"]["event_subscriptions"]["request_url"], m["settings"]["interactivity"]["request_url"]]
    assert urls and all(u.startswith("https://") and u.endswith("/slack/events") for u in urls)
    assert [c["command"] for c in m["features"]["slash_commands"]] == ["/rca"]
    assert m["settings"]["interactivity"]["is_enabled"] is True  # buttons and the feedback modal
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.channels"} <= events
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    # what the bot calls: chat.postMessage / chat.update, files upload v2, the command, mentions, thread history
    assert {"chat:write", "files:write", "commands", "app_mentions:read", "channels:history"} <= scopes
