"""Fake outside services on real sockets (OpenAI-compatible, Slack Web API)."""
