"""What both services must agree on, by concern:

- `shared.domain`: the jobs schema (models, enums, migrations), the Django app `jobs`;
- `shared.api`: the HTTP contract (problem documents and their catalogue, serializers,
  the JSON parser, ETags, timestamps, the base view and the OpenAPI hooks);
- `shared.infrastructure`: how a service runs (settings, the PostgreSQL backend,
  middleware, the WSGI handler, health checks).

`shared/openapi.yaml` is the API's generated description (`make openapi`).
"""
