"""The Dagster layer. Its public part, for tracking your own steps (see the README):

- `FailtrackTracker`: a resource; `with failtrack_tracker.tracking(context) as tracker:`
  gives the step's tracker (`tracker.event(...)`, `succeeded(...)`, `failed(...)`);
- `failtrack_failure_hook`: attach to any op or job; an op that dies is recorded;
- `failtrack_run_failure_sensor(jobs)`: records the failed runs of `jobs` no hook saw.
"""

from failtrack_pipeline.defs.tracker import (
    FailtrackTracker,
    failtrack_failure_hook,
    failtrack_run_failure_sensor,
)

__all__ = ["FailtrackTracker", "failtrack_failure_hook", "failtrack_run_failure_sensor"]
