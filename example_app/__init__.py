"""A FastAPI service that logs users in with encrypted, signed tokens."""
