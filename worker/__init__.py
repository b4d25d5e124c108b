"""``kol-worker`` and ``kol-beat``: the processes that run the domains' Celery tasks."""
