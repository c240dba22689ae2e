"""What both services must agree on: models, enums, migrations, errors, settings."""
