from django.apps import AppConfig


class AllocationConfig(AppConfig):
    name = "spendapp.allocation"
    label = "allocation"
    verbose_name = "Cost allocation (showback / chargeback)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Rule, team and shared-cost changes schedule a recompute of the periods they touch.
        from spendapp.allocation import signals  # noqa: F401
        from spendapp.allocation.queries import allocated_rows, team_and_cost_centre_names
        from spendapp.usage.queries import AllocatedSource, register_allocated_source

        # Team and cost-centre spend queries read the allocated rollup (usage imports nothing
        # from allocation: the lower layer offers the hook, this one fills it).
        register_allocated_source(AllocatedSource(allocated_rows, team_and_cost_centre_names))
