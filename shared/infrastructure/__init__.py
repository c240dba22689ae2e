"""How a service runs: settings, the PostgreSQL backend, middleware, WSGI, health checks."""
