"""Fresh data without a person: the task engine (Dramatiq over RabbitMQ or Redis, or
in-process), its jobs (sync, rescore, train, reindex, digest), schedules per tenant and the
vendor webhooks that trigger syncs. See ``tasks.engine`` and ``tasks.schedule``."""
