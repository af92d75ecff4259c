"""Running jobs: the worker (`worker.py`) that takes jobs from a durable queue (functions/queues) and runs them
wherever the deployment runs it (threads in a long-running server, a queue-triggered function, the scheduled
drain), and the scheduled work (`scheduled.py`: warm-up, scale-down, drain)."""
