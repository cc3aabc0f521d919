"""The HTTP API (FastAPI): jobs and OpenAI-compatible routes. Depends on ``producer`` and
``laneway``; nothing imports it. Served by ``laneway api`` (uvicorn, ``api.main:create_app``).
"""

# The public modules; listing them here does not import them.
__all__ = ["errors", "main"]
