"""The FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI

from api import errors, ratelimit
from api.auth import Authenticator
from api.batch.driver import BatchDriver
from api.deps import ApiState, metrics_guard
from api.limits import BodyLimit
from api.ratelimit import RateLimiter
from api.request_counts import CountRequests, RequestCounts
from api.routes import batches, docs, files, health, jobs, metrics, openai, usage
from laneway.apikeys import AsyncKeyStore, KeyRing
from laneway.celery_app import create_app as create_celery
from laneway.filestore import FileStorage
from laneway.redis_server import client_options
from laneway.settings import Settings, load_settings
from laneway.store import AsyncJobStore
from laneway.wire import MessageFactory
from producer import AsyncProducer


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    # A malformed key list stops the API here, before it serves anything.
    keyring = KeyRing.from_env(settings.api.api_keys_env)
    request_counts = RequestCounts()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Waits block in XREAD for up to BLOCK_MS: the socket timeout (30 s) exceeds it.
        client = aioredis.Redis.from_url(
            settings.redis_url,
            max_connections=2048,
            **client_options(asyncio=True),  # type: ignore[arg-type]
        )
        store = AsyncJobStore(client, settings.job_ttl_seconds)
        producer = AsyncProducer(store, MessageFactory(create_celery(settings)), settings)
        storage = FileStorage(settings.batch_storage_url())
        driver = BatchDriver(settings, client, store, producer, storage)
        app.state.laneway = ApiState(
            settings=settings,
            redis=client,
            store=store,
            producer=producer,
            auth=Authenticator(keyring, AsyncKeyStore(client)),
            limiter=RateLimiter(client),
            storage=storage,
            batch_driver=driver,
            request_counts=request_counts,
        )
        driving = asyncio.create_task(driver.run())
        flusher = asyncio.create_task(request_counts.flush_forever(client))
        yield
        driving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await driving
        await driver.close()
        await request_counts.close(client, flusher)
        await client.aclose()

    app = FastAPI(
        title="laneway",
        summary="A queue-backed router for LLM inference traffic.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by api.routes.docs, behind api.open_docs
        redoc_url=None,
        openapi_url=None,
    )
    errors.install(app)
    ratelimit.install(app)
    upload_bytes = settings.batch.max_file_bytes + 1024 * 1024  # the form's own bytes too
    app.add_middleware(
        BodyLimit, max_bytes=settings.api.max_body_bytes, per_path={"/v1/files": upload_bytes}
    )
    app.add_middleware(errors.CatchAll)
    app.add_middleware(CountRequests, counts=request_counts)  # added last: the outermost
    app.include_router(jobs.router)
    app.include_router(openai.router)
    app.include_router(files.router)
    app.include_router(batches.router)
    app.include_router(usage.router)
    app.include_router(health.router)
    app.include_router(metrics.router, dependencies=[Depends(metrics_guard)])
    app.include_router(docs.router)
    return app
