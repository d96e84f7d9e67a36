"""Workers: the processes that run workflow and activity code for the engine.

```python
from assay.worker import run_worker

run_worker("http://127.0.0.1:8080", "payments", "main", workflows=[hello], activities=[greet])
```

`Worker` is the same thing to embed in an asyncio program: `await worker.run()`, and
`await worker.shutdown()` to stop it.
"""

from assay.worker._worker import Worker, run_worker

__all__ = ["Worker", "run_worker"]
