from django.apps import AppConfig


class JobsConfig(AppConfig):
    """The jobs schema. Both services install it; only the command side migrates it."""

    name = "shared.domain"
    label = "jobs"
    verbose_name = "Jobs"
    default_auto_field = "django.db.models.BigAutoField"
