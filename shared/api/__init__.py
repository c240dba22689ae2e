"""The HTTP contract both services speak: problem documents, serializers, parsing, ETags."""
