"""The Slack bot: investigate and discuss incidents in threads (mounted at /slack/events; docs/slack.md)."""
