import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "query_service.settings")

from shared.infrastructure.wsgi import get_api_wsgi_application

application = get_api_wsgi_application()
