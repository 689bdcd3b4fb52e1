"""The failure hook: why an op failed (the feed could not be fetched or parsed), recorded."""

from dagster import HookContext, failure_hook

from failtrack_pipeline.defs.run_failures import record_run_failure


@failure_hook(required_resource_keys={"failtrack_db", "failtrack_sources"})
def record_scrape_failure(context: HookContext) -> None:
    """Record why the op failed; never raises, so the op's own error stays the run's story."""
    try:
        run = context.instance.get_run_by_id(context.run_id)
        assert run is not None
        rules = context.resources.failtrack_sources.rules()
        record_run_failure(
            context.instance, run, context.op_exception, context.resources.failtrack_db, rules
        )
    except Exception:
        context.log.exception("failtrack: could not record this run's failure")
