"""`python -m assay_workflow`: serve the workflow service."""

from assay_common.service import serve
from assay_workflow.app import create_app
from assay_workflow.settings import WorkflowSettings

if __name__ == "__main__":
    settings = WorkflowSettings()
    serve(create_app(settings), settings)
