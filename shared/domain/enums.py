from django.db import models


class JobStatusType(models.TextChoices):
    """The states a job can be in, stored as their names so the database reads plainly."""

    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    COMPLETED = "COMPLETED", "Completed"
    FAILED = "FAILED", "Failed"
