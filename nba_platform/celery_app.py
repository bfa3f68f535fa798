"""The Celery app that `NBA_EXECUTOR=celery` workers run:
    celery -A nba_platform.celery_app worker --prefetch-multiplier=1 --loglevel=INFO

Built from the same settings as the executor (NBA_CELERY_BROKER / _BACKEND / _QUEUE), so the
worker consumes exactly the queue that runs submit steps to. Each task rebuilds the job from the
`nba_platform.definitions` code pointer, so a worker needs the same environment as the code
location (NBA_* settings, DAGSTER_HOME or the instance it is handed, access to the lake).
"""

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task
from kombu import Queue

from nba_platform.resources.environment import celery_executor_config
from nba_platform.settings import load_settings

_settings = load_settings()
app = make_app(CeleryExecutor.for_cli(**celery_executor_config(_settings)).app_args())
# make_app fixes the consumed queue to "dagster"; consume NBA_CELERY_QUEUE instead, declared with
# the same arguments dagster-celery uses (priorities 0-10), so both sides agree on the queue.
app.conf.task_queues = [
    Queue(_settings.celery_queue, routing_key=f"{_settings.celery_queue}.#", queue_arguments={"x-max-priority": 10})
]
execute_plan = create_task(app)
