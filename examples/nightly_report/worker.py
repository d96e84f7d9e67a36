"""`python -m examples.nightly_report.worker`: run the example's worker until Ctrl-C."""

from assay.worker import run_worker
from examples import api_url, namespace
from examples.nightly_report.workflows import ACTIVITIES, TASK_QUEUE, WORKFLOWS

if __name__ == "__main__":
    run_worker(api_url(), namespace(), TASK_QUEUE, workflows=WORKFLOWS, activities=ACTIVITIES)
