"""The kernel's ``laneway`` commands.

The console script (:mod:`laneway_cli`) adds the upper packages' commands
(``laneway classify``); ``python -m laneway.cli`` runs the kernel's alone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import httpx
import typer
import yaml
from rich.console import Console
from rich.table import Table

from laneway import runfile
from laneway.batch_cli import app as batch_app
from laneway.keys_cli import app as keys_app
from laneway.lanes import LANES
from laneway.net import is_loopback
from laneway.settings import ConfigError, Settings, load_settings
from laneway.sim.cli import sim_backend
from laneway.usage_cli import usage_command

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="laneway: a queue-backed router for LLM inference traffic.",
)
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
app.add_typer(config_app, name="config")
dead_app = typer.Typer(no_args_is_help=True, help="Dead-lettered jobs: list them, requeue them.")
app.add_typer(dead_app, name="dead")
app.command("sim-backend")(sim_backend)
app.add_typer(keys_app, name="keys")
app.add_typer(batch_app, name="batch")
app.command("usage")(usage_command)

console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML config file [default: $LANEWAY_CONFIG or ./laneway.yaml]"
    ),
]
LogFormatOption = Annotated[
    Literal["text", "json"] | None,
    typer.Option(help="log lines as text or one JSON object each [default: config log_format]"),
]
ApiOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="LANEWAY_API_URL",
        help="API root [default: the running `laneway up`, else the config's api.port]",
    ),
]


class CliError(Exception):
    """An expected failure: printed as one line, no traceback."""


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(code)


def _load(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(str(exc), 2)


def current_run(config: Path | None = None) -> runfile.RunInfo | None:
    try:
        return runfile.current(config)
    except ConfigError as exc:
        fail(str(exc), 2)


def _settings(config: Path | None) -> Settings:
    try:
        return runfile.command_settings(config)
    except ConfigError as exc:
        fail(str(exc), 2)


def _api_url(api: str | None, config: Path | None = None) -> str:
    if api:
        return api.rstrip("/")
    try:
        return runfile.api_url(config)
    except ConfigError as exc:
        fail(str(exc), 2)


def _redis(settings: Settings) -> Any:
    """A client for the configured Redis, or one clear line saying why there is none."""
    import redis

    client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=3
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise CliError(_redis_unreachable(settings.redis_url, exc)) from None
    return client


def _redis_unreachable(url: str, exc: BaseException) -> str:
    reason = str(exc).split(". ", 1)[-1].rstrip(".") or type(exc).__name__
    return (
        f"cannot reach Redis at {url} ({reason}). Start the system with `laneway up` "
        "(other commands then find it), or point LANEWAY_REDIS_URL or --config at your Redis."
    )


def _api_keys_configured(settings: Settings) -> bool:
    """Whether the API will ask every request for a key: keys in the environment, or
    keys ever stored in Redis (``laneway keys create``), as the API itself decides.
    :class:`~laneway.apikeys.ApiKeyError` for a malformed key list, ``RedisError`` when
    the stored keys cannot be checked."""
    import redis

    from laneway.apikeys import KeyRing, KeyStore

    if KeyRing.from_env(settings.api.api_keys_env).enabled:
        return True
    client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=3, socket_timeout=3
    )
    try:
        return KeyStore(client).any_created()
    finally:
        client.close()


def _refuse_open_bind(host: str, settings: Settings, insecure: bool) -> None:
    """Stop unless the API would ask for keys, or binds to loopback, or ``--insecure``;
    a malformed key list stops it anywhere. Records the bind address for the API
    process (``LANEWAY_API__HOST``): outside loopback it closes /docs and /metrics."""
    import redis

    from laneway.apikeys import ApiKeyError, KeyRing

    variable = settings.api.api_keys_env
    open_bind = not is_loopback(host)
    try:
        KeyRing.from_env(variable)
        needs_keys = open_bind and not insecure and not _api_keys_configured(settings)
    except ApiKeyError as exc:
        where = f"refusing to listen on {host} without API keys: " if open_bind else ""
        err.print(f"[red]{where}{variable} is malformed: {exc}[/red]")
        raise typer.Exit(2) from None
    except redis.RedisError as exc:
        err.print(
            f"[red]refusing to listen on {host} without API keys: {variable} is empty and "
            f"the stored keys cannot be checked (Redis: {exc}); set {variable}, or pass "
            "--insecure[/red]"
        )
        raise typer.Exit(2) from None
    if needs_keys:
        err.print(
            f"[red]refusing to listen on {host} without API keys: set "
            f"{variable}='key:tenant,...', create one with `laneway keys create --tenant "
            "NAME`, or pass --insecure[/red]"
        )
        raise typer.Exit(2)
    os.environ["LANEWAY_API__HOST"] = host


@config_app.command("check")
def config_check(
    file: Annotated[Path | None, typer.Argument(help="config file to check")] = None,
) -> None:
    """Validate a configuration and print the effective result (env overrides applied)."""
    settings = _load(file)
    console.print(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False), end="")
    for lane, config in settings.lanes.items():
        for backend in config.backends:
            if backend.api_key_env and not backend.api_key():
                missing = f"{lane}/{backend.name}: ${backend.api_key_env} is not set"
                err.print(f"[yellow]warning: {missing}[/yellow]")


def _job_store(settings: Settings) -> Any:
    from laneway.store import JobStore

    return JobStore(_redis(settings), settings.job_ttl_seconds)


@dead_app.command("list")
def dead_list(config: ConfigOption = None) -> None:
    """Dead-lettered jobs, oldest first, with their last error and attempt count."""
    from laneway.deadletters import dead_letters

    settings = _settings(config)
    letters = dead_letters(_job_store(settings))
    table = Table(title=f"{len(letters)} dead-lettered jobs in {settings.redis_url}")
    for column in ("job", "dead since", "lanes tried", "attempts", "error"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        attempts = letter.job.attempts if letter.job else []
        lanes = ", ".join(dict.fromkeys(a.lane for a in attempts)) or "-"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(letter.at))
        table.add_row(letter.job_id, when, lanes, str(len(attempts)), letter.error)
    console.print(table)


@dead_app.command("requeue")
def dead_requeue(
    job_id: Annotated[str | None, typer.Argument(help="the job to requeue")] = None,
    all_jobs: Annotated[
        bool, typer.Option("--all", help="requeue every dead-lettered job")
    ] = False,
    lane: Annotated[
        str | None, typer.Option(help="lane to send them to [default: their first]")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Give dead-lettered jobs another go, with a fresh deadline and their history kept."""
    from laneway.celery_app import create_app
    from laneway.deadletters import dead_letters, requeue
    from laneway.lanes import parse_lane
    from laneway.wire import MessageFactory

    if bool(job_id) == all_jobs:
        raise typer.BadParameter("give a job id or --all")
    settings = _settings(config)
    store = _job_store(settings)
    messages = MessageFactory(create_app(settings))
    letters = [d for d in dead_letters(store) if all_jobs or d.job_id == job_id]
    if not letters:
        err.print(f"[red]{job_id or 'nothing'} is not in the dead-letter store[/red]")
        raise typer.Exit(1)
    target = parse_lane(lane) if lane else None
    deadline = settings.retry.job_deadline_seconds
    for letter in letters:
        outcome = requeue(store, messages, letter, deadline, target)
        console.print(f"{letter.job_id}: {outcome}")


@app.command()
def worker(
    lane: Annotated[
        str,
        typer.Option(help=f"lane to serve ({', '.join(LANES)}) or 'classify' for the classifier"),
    ],
    concurrency: Annotated[
        int | None, typer.Option(help="in-flight jobs [default: the lane's concurrency]")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "INFO",
    pool: Annotated[
        str | None,
        typer.Option(help="Celery pool: threads (lanes), solo (rules classifier) or prefork"),
    ] = None,
    log_format: LogFormatOption = None,
    autoscale: Annotated[
        str | None,
        typer.Option(
            metavar="MAX,MIN",
            help="run MIN to MAX worker processes of the lane, as many as its queue needs "
            "(one per --concurrency waiting jobs)",
        ),
    ] = None,
    scale_down_after: Annotated[
        float,
        typer.Option(help="with --autoscale: seconds fewer workers must suffice before one stops"),
    ] = 30.0,
    config: ConfigOption = None,
) -> None:
    """Run a Celery worker for the classifier or for one lane."""
    from laneway.worker import CLASSIFY_ROLE, run_worker

    if lane not in (CLASSIFY_ROLE, *LANES):
        raise typer.BadParameter(
            f"expected one of classify, {', '.join(LANES)}", param_hint="--lane"
        )
    settings = _settings(config)
    if autoscale is None:
        run_worker(settings, lane, concurrency, loglevel, pool, log_format)
        return
    from laneway.autoscale import ScalePolicy, parse_autoscale, run_autoscaled

    if lane == CLASSIFY_ROLE:
        raise typer.BadParameter("autoscaling is for lanes", param_hint="--autoscale")
    try:
        low, high = parse_autoscale(autoscale)
        per_worker = concurrency or settings.lanes[lane].worker_concurrency  # type: ignore[index]
        policy = ScalePolicy(low, high, per_worker, scale_down_after)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--autoscale") from None
    args = ["--concurrency", str(per_worker), "--loglevel", loglevel]
    args += [
        *(["--pool", pool] if pool else []),
        *(["--log-format", log_format] if log_format else []),
    ]
    args += ["--config", str(config)] if config else []
    run_autoscaled(settings, lane, policy, args)  # type: ignore[arg-type]


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="interface [default: config api.host]")] = None,
    port: Annotated[int | None, typer.Option(help="port [default: config api.port]")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    insecure: Annotated[
        bool, typer.Option(help="allow a non-loopback address without API keys")
    ] = False,
    fd: Annotated[
        int | None, typer.Option(help="serve on this inherited listening socket instead")
    ] = None,
    log_format: LogFormatOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the HTTP API (jobs, OpenAPI docs at /docs)."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from laneway import logs

    settings = _load(config)
    json_logs = (log_format or settings.log_format) == "json"
    log_config = logs.uvicorn_log_config("json", "warning", logs.secrets_of(settings))
    host = host or settings.api.host
    _refuse_open_bind(host, settings, insecure)
    if config is not None:
        os.environ["LANEWAY_CONFIG"] = str(config)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port if port is not None else settings.api.port,
        fd=fd,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        log_config=log_config if json_logs else LOGGING_CONFIG,
    )


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def _print_job(job: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("job", job["id"])
    table.add_row("status", job["status"])
    table.add_row(
        "lane", f"{job.get('lane')}  ({job.get('strategy')}, confidence {job.get('confidence')})"
    )
    table.add_row("reason", str(job.get("reason")))
    table.add_row("backend", f"{job.get('backend')} ({job.get('model')})")
    result = job.get("result") or {}
    choices = result.get("choices") or [{}]
    answer = (choices[0].get("message") or {}).get("content") or choices[0].get("text")
    if answer is not None:
        table.add_row("answer", answer)
    if job.get("error"):
        table.add_row("error", f"[red]{job['error']}[/red]")
    console.print(table)


@app.command()
def submit(
    text: Annotated[str, typer.Argument(help="the user message")],
    route: Annotated[str | None, typer.Option(help="force a lane")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="max_tokens of the request")] = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for the answer (0: don't)")] = 60,
    api: ApiOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the job record as JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Submit one chat request and print its job id, lane, backend and answer."""
    api_url = _api_url(api, config)
    body: dict[str, Any] = {"messages": [{"role": "user", "content": text}]}
    if route:
        body["route"] = route
    if max_tokens:
        body["max_tokens"] = max_tokens
    with httpx.Client(base_url=api_url, headers=_api_headers(), timeout=wait + 10) as client:
        try:
            accepted = client.post("/v1/jobs", json=body)
        except httpx.TransportError as exc:
            fail(
                f"cannot reach the API at {api_url} ({exc}). Is `laneway up` running? "
                "Or name the API with --api / LANEWAY_API_URL."
            )
        if accepted.status_code != 202:
            fail(f"{accepted.status_code}: {_error_message(accepted)}")
        job_id = accepted.json()["id"]
        job = client.get(f"/v1/jobs/{job_id}", params={"wait": wait}).json()
    if as_json:
        console.print_json(json.dumps(job))
    else:
        _print_job(job)
    if job["status"] not in ("succeeded", "queued", "routed", "running"):
        raise typer.Exit(1)


DEMO_PROMPTS = (
    "hi there!",
    "Write a short, friendly email to my neighbour asking them to water my plants while I am "
    "away next week.",
    "write a python function that merges two sorted lists",
)


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="submit a sample job per lane once ready")] = True,
    exit_after_demo: Annotated[
        bool, typer.Option("--exit", help="stop everything after the demo (for scripts)")
    ] = False,
    embedded_redis: Annotated[
        bool, typer.Option(help="always start an embedded Redis, even if one is reachable")
    ] = False,
    flower: Annotated[bool, typer.Option(help="start Flower")] = True,
    data_dir: Annotated[Path | None, typer.Option(help="where logs and Redis data go")] = None,
    store_content: Annotated[
        bool,
        typer.Option(
            help="keep prompts and results for content_ttl_seconds after a job ends "
            "(--no-store-content: metadata only)"
        ),
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Start the whole system on loopback: Redis, API, classifier, lane workers, Flower, sims.

    A child that dies is restarted with backoff; only a crash loop stops the system."""
    from laneway.supervisor import (
        CrashLoop,
        Supervisor,
        persistence_warning,
        resolve_redis,
        start_sim_backends,
        wait_ready,
        write_effective_config,
    )

    settings = _load(config)
    data = (data_dir or settings.data_dir).resolve()
    running = runfile.read(data)
    if running is not None:
        fail(
            f"laneway up is already running (pid {running.pid}, API {running.api_url}) with "
            f"its data in {data}. Stop it first, or give this one another --data-dir."
        )
    sup = Supervisor(data, report=lambda line: err.print(f"[yellow]{line}[/yellow]"))
    stopping = False

    def _on_signal(signum: int, _: Any) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)  # even where the shell started us ignoring it
    code = 0
    try:
        redis_url = resolve_redis(
            sup, os.environ.get("REDIS_URL") or settings.redis_url, embedded_redis
        )
        risk = None if sup.embedded_redis else persistence_warning(redis_url)
        if risk:
            console.print(
                f"[yellow]warning:[/yellow] the Redis at {redis_url} could lose jobs: {risk}. "
                "Use `laneway up --embedded-redis` for a durable one (AOF on)."
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_CONFIG")}
        env["PYTHONUNBUFFERED"] = "1"
        lanes = {name: lane.model_copy() for name, lane in settings.lanes.items()}
        for lane, backends in start_sim_backends(sup, settings, env).items():
            lanes[lane] = lanes[lane].model_copy(update={"backends": backends})  # type: ignore[index]
        api_socket = sup.listen(settings.api.port)
        api_port = api_socket.getsockname()[1]
        effective = settings.model_copy(
            update={
                "redis_url": redis_url,
                "lanes": lanes,
                "api": settings.api.model_copy(update={"port": api_port}),
                "data_dir": data,
                "store_content": settings.store_content and store_content,
            }
        )
        config_file = data / "effective-config.yaml"
        write_effective_config(effective, config_file)
        env = {**env, "LANEWAY_CONFIG": str(config_file), "LANEWAY_REDIS_URL": redis_url}
        laneway = [sys.executable, "-m", "laneway.cli"]
        fd = api_socket.fileno()
        sup.spawn("api", [*laneway, "api", "--fd", str(fd)], env, pass_fds=(fd,))
        sup.spawn("worker-classify", [*laneway, "worker", "--lane", "classify"], env)
        for lane in LANES:
            sup.spawn(f"worker-{lane}", [*laneway, "worker", "--lane", lane], env)
        flower_url = None
        if flower:
            flower_socket = sup.listen(5555)
            fd = flower_socket.fileno()
            flower_url = f"http://127.0.0.1:{flower_socket.getsockname()[1]}"
            sup.spawn("flower", [*laneway, "flower", "--fd", str(fd)], env, pass_fds=(fd,))
        api_url = f"http://127.0.0.1:{api_port}"
        console.print("waiting for the workers (the classifier loads its model on first start)…")
        wait_ready(api_url, sup, timeout=300)
        run = runfile.RunInfo(os.getpid(), redis_url, api_url, flower_url, str(config_file))
        runfile.write(data, run)
        _print_urls(run, effective, sup)
        if demo:
            code = _run_demo(api_url)
        if exit_after_demo:
            return
        _print_hints(run, data)
        console.print("[bold]laneway is up.[/bold] Ctrl-C stops everything.")
        while True:
            sup.watch()
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("\nstopping…")
    except (RuntimeError, CliError, CrashLoop) as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        code = 1
    finally:
        sup.stop()
        runfile.remove(data, os.getpid())
        console.print("all laneway processes stopped.")
        if code:
            raise typer.Exit(code)


def laneway_command() -> str:
    """How to run ``laneway`` from this shell: bare when the PATH finds this one, else
    the path of this environment's script (relative when under the current directory)."""
    script = Path(sys.executable).parent / "laneway"
    if not script.is_file():
        return f"{sys.executable} -m laneway.cli"
    found = shutil.which("laneway")
    if found and Path(found).resolve() == script.resolve():
        return "laneway"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _print_urls(run: runfile.RunInfo, settings: Settings, sup: Any) -> None:
    table = Table(title="laneway", show_header=False)
    table.add_row("API", run.api_url)
    table.add_row("API docs", f"{run.api_url}/docs")
    if run.flower_url:
        table.add_row("Flower", run.flower_url)
    embedded = " (embedded, AOF on)" if sup.embedded_redis else ""
    table.add_row("Redis", run.redis_url + embedded)
    for lane, config in settings.lanes.items():
        for backend in config.backends:
            table.add_row(f"backend {lane}", f"{backend.name} {backend.base_url}")
    table.add_row("logs", str(sup.log_dir))
    console.print(table)


def _print_hints(run: runfile.RunInfo, data: Path) -> None:
    """Commands to copy, one a line and never wrapped, runnable exactly as printed: other
    commands find this system through the run file in its data directory."""
    laneway = laneway_command()
    body = '{"model": "auto", "messages": [{"role": "user", "content": "hi there!"}]}'
    lines = ["Try it (each line runs as printed, in another terminal in this directory):"]
    if data != (Path.cwd() / ".laneway").resolve():
        lines.append(f"  export LANEWAY_DATA_DIR={data}")
    lines += [
        f'  {laneway} submit "write a python function that merges two sorted lists"',
        f"  {laneway} dead list",
        f"  curl -s {run.api_url}/v1/chat/completions -H 'Content-Type: application/json' "
        f"-d '{body}'",
    ]
    for line in lines:
        print(line, flush=True)


def _api_headers() -> dict[str, str]:
    key = os.environ.get("LANEWAY_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _run_demo(api_url: str) -> int:
    table = Table(title="demo: one request per lane")
    for column in ("prompt", "job", "lane", "backend", "answer"):
        table.add_column(column, overflow="fold")
    failures = 0
    with httpx.Client(base_url=api_url, headers=_api_headers(), timeout=60) as client:
        if client.get("/v1/models").status_code == 401:
            console.print(
                "[yellow]the API asks for a key (keys exist in this Redis): no demo. Set "
                "LANEWAY_API_KEY to one of them for the demo and `laneway submit`.[/yellow]"
            )
            return 0
        for prompt in DEMO_PROMPTS:
            # No max_tokens: a tiny output budget is itself a reason for fast-path.
            accepted = client.post(
                "/v1/jobs", json={"messages": [{"role": "user", "content": prompt}]}
            )
            job = client.get(f"/v1/jobs/{accepted.json()['id']}", params={"wait": 30}).json()
            answer = ""
            if job["status"] == "succeeded" and not job.get("result"):
                answer = "(answered; content not stored)"
            elif job["status"] == "succeeded":
                words = job["result"]["choices"][0]["message"]["content"].split()
                answer = " ".join(words[:10]) + (" …" if len(words) > 10 else "")
            else:
                failures += 1
                answer = f"[red]{job['status']}: {job.get('error')}[/red]"
            table.add_row(
                prompt, job["id"], job.get("lane") or "", job.get("backend") or "", answer
            )
    console.print(table)
    return 1 if failures else 0


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _status_tables(status: Any) -> Any:
    from rich.console import Group

    from laneway.lanes import CLASSIFY_QUEUE, queue_for

    lanes = Table(title="lanes")
    columns = ("lane", "queued", "oldest", "workers", "concurrency", "finished", "jobs/s (1 min)")
    for column in columns:
        lanes.add_column(column, justify="left" if column == "lane" else "right")
    lanes.add_row(
        "(classifier)",
        str(status.depths.get(CLASSIFY_QUEUE, 0)),
        _seconds(status.oldest.get(CLASSIFY_QUEUE)),
        str(status.workers.get("classify", 0)),
        str(status.concurrency.get("classify", 0)),
        "-",
        "-",
    )
    for lane in LANES:
        queue = queue_for(lane)
        lanes.add_row(
            lane,
            str(status.depths.get(queue, 0)),
            _seconds(status.oldest.get(queue)),
            str(status.workers.get(lane, 0)),
            str(status.concurrency.get(lane, 0)),
            str(status.finished.get(lane, 0)),
            f"{status.throughput(lane):.2f}",
        )
    backends = Table(title="backends")
    for title in ("lane", "backend", "in flight / limit", "breaker", "p50 (1 min)", "p50 (all)"):
        backends.add_column(title)
    for backend in status.backends:
        colour = "red" if backend.breaker == "open" else "green"
        backends.add_row(
            backend.lane,
            backend.name,
            f"{backend.in_flight} / {backend.limit}",
            f"[{colour}]{backend.breaker}[/{colour}]",
            _seconds(backend.p50_last_minute),
            _seconds(backend.p50_since_start),
        )
    footer = [f"dead letters: {status.dead_letters}"]
    if status.spillovers:
        moved = ", ".join(f"{route}: {n}" for route, n in sorted(status.spillovers.items()))
        footer.append(f"spillovers: {moved}")
    return Group(lanes, backends, *footer)


@app.command()
def status(
    watch: Annotated[bool, typer.Option(help="refresh in place until Ctrl-C")] = False,
    interval: Annotated[float, typer.Option(help="seconds between refreshes")] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    config: ConfigOption = None,
) -> None:
    """Lanes (queued jobs and the oldest one's wait, live workers and their concurrency,
    finished jobs and the last minute's rate), backends (calls in flight against
    max_concurrency, breaker state, median call latency over the last minute and since
    the counters began), dead letters and spillovers."""
    import dataclasses

    from rich.live import Live

    from laneway.status import read_status

    settings = _settings(config)
    client = _redis(settings)
    snapshot = read_status(client, settings)
    if as_json:
        print(json.dumps(dataclasses.asdict(snapshot), indent=2))
        return
    console.print(f"[dim]{settings.redis_url}[/dim]", highlight=False)
    if not watch:
        console.print(_status_tables(snapshot))
        return
    with Live(_status_tables(snapshot), console=console, auto_refresh=False) as live:
        try:
            while True:
                time.sleep(max(0.2, interval))
                live.update(_status_tables(read_status(client, settings)), refresh=True)
        except KeyboardInterrupt:
            return


@app.command("flower")
def flower_command(
    address: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 5555,
    basic_auth: Annotated[
        str | None,
        typer.Option(
            envvar="FLOWER_BASIC_AUTH",
            help="user:password[,user:password...]; required beyond loopback",
        ),
    ] = None,
    fd: Annotated[
        int | None, typer.Option(help="serve on this inherited listening socket instead")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run Flower (Celery's monitor) on laneway's broker."""
    from laneway.flower import serve_flower

    credentials = [c.strip() for c in (basic_auth or "").split(",") if c.strip()]
    if any(":" not in c or c.startswith(":") or c.endswith(":") for c in credentials):
        fail("--basic-auth takes user:password pairs, separated by commas", 2)
    if not is_loopback(address) and not credentials:
        fail(
            f"refusing to serve Flower on {address} without authentication: pass "
            "--basic-auth user:password (or set FLOWER_BASIC_AUTH)",
            2,
        )
    settings = _settings(config)
    _redis(settings)
    serve_flower(settings, address, port, fd, credentials)


def main() -> None:
    import redis

    try:
        app()
    except CliError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        sys.exit(1)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        err.print(
            f"[red]lost the connection to Redis ({exc}). Is `laneway up` running, and do "
            "LANEWAY_REDIS_URL or --config name the right Redis?[/red]",
            highlight=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
