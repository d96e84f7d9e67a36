"""The workflow console. Its pages are of the console's namespace (`?namespace=`), and need `view`
on it: a platform viewer reaches every namespace. The API checks every action again (starting,
signalling, changing a schedule need `operate`, namespaces `administer`)."""

from assay_dashboard.console import page

NAMESPACE_VIEW = "namespace:{query.namespace}#view"

page(
    "/workflows",
    title="Workflows",
    template="workflows/list.html",
    nav="Workflows",
    needs=NAMESPACE_VIEW,
    script="pages/workflows.js",
)
# One run, by its workflow id: a deep link (`?namespace=…&tab=…`) that survives a reload.
page(
    "/workflows/{workflow_id}",
    title="Workflow",
    template="workflows/detail.html",
    needs=NAMESPACE_VIEW,
    script="pages/workflows/detail.js",
)
page(
    "/schedules",
    title="Schedules",
    template="workflows/schedules.html",
    nav="Workflows",
    needs=NAMESPACE_VIEW,
    script="pages/workflows/schedules.js",
)
page(
    "/workers",
    title="Workers",
    template="workflows/workers.html",
    nav="Workflows",
    needs=NAMESPACE_VIEW,
    script="pages/workflows/workers.js",
)
page(
    "/queues",
    title="Queues",
    template="workflows/queues.html",
    nav="Workflows",
    needs=NAMESPACE_VIEW,
    script="pages/workflows/queues.js",
)
# Everyone signed in may list namespaces (they see those they can view); changes need more.
page(
    "/namespaces",
    title="Namespaces",
    template="workflows/namespaces.html",
    nav="Workflows",
    script="pages/workflows/namespaces.js",
)
