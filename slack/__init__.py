"""The Slack app: Bolt in HTTP mode inside the API (``/slack/events``) or Socket Mode; the
analyst answers mentions, direct messages and ``/mspilot``; insight buttons give feedback."""
