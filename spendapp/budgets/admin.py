from django.contrib import admin, messages

from spendapp.budgets.forms import BudgetForm
from spendapp.budgets.models import AlertEvent, Budget, DeliveryAttempt, Notification


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    form = BudgetForm
    list_display = ("name", "scope_label", "period", "amount", "currency", "active", "evaluated_at")
    list_filter = ("active", "period", "scope")
    search_fields = ("name", "scope_value")
    filter_horizontal = ("notify_users", "notify_groups")
    readonly_fields = (
        "evaluated_at",
        "eval_period_start",
        "eval_spend",
        "eval_projected",
        "eval_probability",
        "eval_crossing_date",
        "eval_note",
    )
    actions = ["send_test_email"]

    @admin.action(description="Send a test email to the budget's recipients")
    def send_test_email(self, request, queryset):
        from spendapp.budgets.testmail import queue_test_message

        total = 0
        for budget in queryset:
            total += len(queue_test_message(budget, fallback=request.user.email))
        self.message_user(request, f"{total} test message(s) queued.", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "budget", "account", "period_start", "threshold")
    list_display += ("notified", "acknowledged_at")
    list_filter = ("kind", "notified")
    list_select_related = ("budget", "account")


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "started_at", "finished_at", "ok", "error")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "recipient", "subject", "status", "attempts")
    list_filter = ("status", "channel")
    search_fields = ("recipient", "subject")
    inlines = [DeliveryAttemptInline]
