"""The API's routers, one module per group of routes (mounted by :mod:`api.main`)."""

__all__ = ["docs", "health", "jobs", "metrics", "openai"]
