#!/usr/bin/env python
"""Django's command-line utility for the command service (also applies the migrations)."""

import os
import sys
from pathlib import Path

# The shared package lives at the repository root, two levels up.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_service.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
