"""The tests' support package (on ``sys.path`` through pytest's ``pythonpath`` setting):
small worlds to test against, fakes of the outside services, and shared fixtures.

- ``api_world``, ``insights_world``, ``slack_app``: a loaded tenant with users, agents and apps
- ``agent_fakes``: scripted chat models and fake tools; ``fakes/``: fake OpenAI and Slack servers
- ``fixtures_small``, ``bulk_rows``: hand-made canonical rows; ``smtp``: a local SMTP inbox
- ``fixtures/``: pytest fixtures registered for the whole suite in ``tests/conftest.py``
"""
