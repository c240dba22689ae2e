"""The jobs schema both services read: models, enums and migrations (Django app `jobs`)."""
