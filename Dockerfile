# laneway: one image for every role (api, classifier, lane workers, flower, sim backends).
#
#   docker build -t laneway .                                  # core (rules classifier)
#   docker build -t laneway:embeddings --build-arg EXTRAS=embeddings .
#
# The embeddings extra pulls torch; TORCH_INDEX_URL points pip at the CPU-only
# wheels so the image does not grow by several GB of CUDA libraries.
FROM python:3.11-slim

ARG EXTRAS=""
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY laneway ./laneway
COPY producer ./producer
COPY classifier ./classifier
COPY workers ./workers
COPY api ./api
COPY laneway_cli ./laneway_cli

RUN if [ -n "$EXTRAS" ]; then \
        pip install --extra-index-url "$TORCH_INDEX_URL" ".[$EXTRAS]"; \
    else \
        pip install .; \
    fi \
    && useradd --create-home --uid 10001 laneway

USER laneway
WORKDIR /home/laneway
EXPOSE 8000
# Every service names its own command: laneway api | worker --lane X | sim-backend,
# or celery ... flower.
CMD ["laneway", "--help"]
