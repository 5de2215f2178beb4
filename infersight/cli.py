"""The ``infersight`` command line (the README lists the commands).

Each command reads the settings when it starts (never at import time) and imports the
heavy parts it needs only then, so ``infersight --help`` stays fast.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infersight.skew_cli import skew_app

if TYPE_CHECKING:
    from infersight.settings import Settings

app = typer.Typer(
    help="infersight: production ML observability (data, prediction and concept drift).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
reference_app = typer.Typer(help="Reference (training/validation) data.", no_args_is_help=True)
grafana_app = typer.Typer(help="Grafana dashboards and data sources.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alert delivery.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(reference_app, name="reference")
app.add_typer(skew_app, name="skew")
app.add_typer(grafana_app, name="grafana")
app.add_typer(apikey_app, name="apikey")
app.add_typer(alerts_app, name="alerts")


Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]


def _stop_on_signals() -> threading.Event:
    """An event set by the first Ctrl-C or SIGTERM (a second Ctrl-C interrupts at once)."""
    import signal

    stop = threading.Event()

    def _handle(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, _handle)
    signal.signal(signal.SIGTERM, _handle)
    return stop


def _embedded_settings() -> Settings:
    from infersight.settings import load_settings

    try:
        return load_settings()
    except ValueError as exc:
        typer.echo(f"infersight: invalid settings: {exc}", err=True)
        raise typer.Exit(code=2) from exc


@app.command()
def up(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Run everything embedded: SQLite, in-process bus, worker, API and web page."""
    import logging

    from infersight.embedded import StartupError, embedded_settings, start_embedded

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = embedded_settings(_embedded_settings())
    stop = _stop_on_signals()
    typer.echo(f"database {settings.resolved_database_url()}")
    typer.secho("WARNING: authentication is off (INFERSIGHT_AUTH=off): anyone who can reach "
                f"{host}:{port} can read and write", fg="yellow", err=True)
    try:
        embedded = start_embedded(settings, host, port)
    except StartupError as exc:
        typer.echo(f"infersight up: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"infersight is up: open {embedded.url}  (API docs {embedded.url}/docs); "
               'send traffic with infersight.init(transport="http://' f'{host}:{port}")')
    typer.echo("Ctrl-C to stop")
    try:
        stop.wait()
    finally:
        typer.echo("stopping …")
        embedded.stop()
        typer.echo("stopped")


@app.command()
def demo(
    speed: Annotated[float, typer.Option(help="Time compression: simulated time runs this "
                                         "many times faster than the clock.")] = 30.0,
    duration: Annotated[str, typer.Option(help="Stop after this long (wall clock), e.g. 90s, 5m.")] = "10m",
    host: Host = "127.0.0.1",
    port: Port = 8000,
) -> None:
    """Embedded mode plus a simulated model whose inputs drift and whose alert fires."""
    import logging
    import sys

    from infersight.collector.demo.run import DemoOptions
    from infersight.demo import run_demo
    from infersight.embedded import StartupError
    from infersight.settings import parse_duration

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not 1.0 <= speed <= 3600.0:
        typer.echo(f"infersight demo: --speed must be between 1 and 3600, got {speed:g}", err=True)
        raise typer.Exit(code=2)
    try:
        duration_s = parse_duration(duration)
    except ValueError as exc:
        typer.echo(f"infersight demo: --duration: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    settings = _embedded_settings()
    stop = _stop_on_signals()
    options = DemoOptions(speed=speed, duration_s=duration_s, host=host, port=port,
                          color=sys.stdout.isatty())
    try:
        code = run_demo(options, settings, lambda line: typer.echo(line), stop)
    except StartupError as exc:
        typer.echo(f"infersight demo: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    raise typer.Exit(code=code)


@app.command()
def api(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Run the HTTP API and web page (OpenAPI at /docs)."""
    import logging

    import uvicorn

    from infersight.api_service import build_api
    from infersight.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except ValueError as exc:
        typer.echo(f"infersight api: invalid settings: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if settings.auth == "off":
        typer.echo("WARNING: INFERSIGHT_AUTH=off: the API accepts requests without an API key",
                   err=True)
    uvicorn.run(build_api(settings), host=host, port=port, log_level="info")


@app.command()
def worker() -> None:
    """Run a collector worker (Kafka consumer group member)."""
    import logging

    from infersight.settings import load_settings
    from infersight.worker_service import run_kafka_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except ValueError as exc:
        typer.echo(f"infersight worker: invalid settings: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    run_kafka_worker(settings)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to the latest migration."""
    from infersight.settings import load_settings
    from infersight.storage.db import current_revision, normalise_url, upgrade

    url = load_settings().resolved_database_url()
    try:
        shown = normalise_url(url).render_as_string(hide_password=True)
        before = current_revision(url)
        upgrade(url)
        after = current_revision(url)
    except Exception as exc:
        typer.echo(f"infersight db upgrade failed: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    change = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    typer.echo(f"database {shown}: {change} revision {after}")


@reference_app.command("upload")
def reference_upload(
    model: str,
    version: str,
    file: Path,
    label_column: Annotated[str | None, typer.Option(help="Column of true labels.")] = None,
    prediction_column: Annotated[
        str | None, typer.Option(help="Column of predicted labels or values.")] = None,
    score_column: Annotated[
        str | None, typer.Option(help="Column of scores (probability of the positive class).")
    ] = None,
    task: Annotated[str | None, typer.Option(help="binary, multiclass or regression.")] = None,
    positive_class: Annotated[str | None, typer.Option(help="Positive class.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Decision threshold.")] = None,
    redact: Annotated[list[str] | None, typer.Option(
        help="Column to leave out, as monitor(redact=...) does (repeat for several).")] = None,
    hash_column: Annotated[list[str] | None, typer.Option(
        "--hash", help="Column to send hashed, as monitor(hash=...) does (repeat for several; "
        "salt: INFERSIGHT_HASH_SALT).")] = None,
    feature_types: Annotated[list[str] | None, typer.Option(
        "--feature-types", help="A column's kind, overriding the inferred one: NAME=numeric, "
        "NAME=categorical or NAME=embedding (repeat for several).")] = None,
) -> None:
    """Upload a reference CSV or Parquet file for MODEL VERSION (to INFERSIGHT_API_URL).

    The file goes through the SDK's reference client: values are cleaned, redacted and
    hashed exactly as the SDK treats live events.
    """
    import json

    from infersight.reference_file import READERS, ReferenceFileError, upload_reference_file
    from infersight.sdk import ReferenceUploadError
    from infersight.settings import load_settings

    if file.suffix.lower() not in READERS or not file.is_file():
        problem = "no such file" if file.suffix.lower() in READERS else "expected a .csv or .parquet file"
        typer.echo(f"infersight reference upload: {file}: {problem}", err=True)
        raise typer.Exit(code=2)
    kinds: dict[str, str] = {}
    for item in feature_types or []:
        name, sep, kind = item.rpartition("=")
        if not sep or not name:
            typer.echo(f"infersight reference upload: --feature-types {item!r}: write "
                       "NAME=numeric, NAME=categorical or NAME=embedding", err=True)
            raise typer.Exit(code=2)
        kinds[name] = kind
    settings = load_settings()
    try:
        answer = upload_reference_file(
            model, version, file, api_url=settings.api_url, api_key=settings.api_key,
            label_column=label_column, prediction_column=prediction_column,
            score_column=score_column, task=task, positive_class=positive_class,
            threshold=threshold, redact=redact or (), hash=hash_column or (),
            feature_types=kinds or None,
        )
    except (ReferenceFileError, ReferenceUploadError) as exc:
        typer.echo(f"infersight reference upload: {exc}", err=True)
        raise typer.Exit(code=1) from None
    kinds = answer.get("features", {})
    typer.echo(f"reference of {model} {version}: {answer.get('rows')} rows, {len(kinds)} features"
               f" (task: {answer.get('task') or 'none'})")
    perf = answer.get("reference_performance") or {}
    if perf:
        typer.echo("reference performance: " + json.dumps(perf, sort_keys=True))
    for warning in answer.get("warnings") or []:
        typer.echo(f"warning: {warning}", err=True)


@grafana_app.command("sync")
def grafana_sync(
    rotate_secrets: Annotated[
        bool, typer.Option(help="Send the database password even if nothing else changed.")
    ] = False,
) -> None:
    """Create or update the data sources and dashboards in Grafana (idempotent).

    Reads INFERSIGHT_GRAFANA_URL, INFERSIGHT_GRAFANA_TOKEN, INFERSIGHT_GRAFANA_DATABASE_URL
    (default INFERSIGHT_DATABASE_URL) and INFERSIGHT_GRAFANA_PROMETHEUS_URL.
    """
    from infersight.dashboards.datasources import PostgresConnection
    from infersight.dashboards.sync import SyncError, connect, sync
    from infersight.settings import load_settings

    try:
        settings = load_settings()
    except ValueError as exc:
        typer.echo(f"infersight grafana sync: invalid settings: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if not settings.grafana_url:
        typer.echo("infersight grafana sync: set INFERSIGHT_GRAFANA_URL (and "
                   "INFERSIGHT_GRAFANA_TOKEN) to the Grafana to update", err=True)
        raise typer.Exit(code=2)
    try:
        postgres = PostgresConnection.from_url(
            settings.grafana_database_url or settings.resolved_database_url())
        api = connect(settings.grafana_url, settings.grafana_token, settings.grafana_timeout)
        results = sync(api, postgres, settings.grafana_prometheus_url,
                       folder_title=settings.grafana_folder, rotate_secrets=rotate_secrets)
    except (ValueError, SyncError) as exc:
        typer.echo(f"infersight grafana sync failed: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    for result in results:
        typer.echo(str(result))


@apikey_app.command("create")
def apikey_create(
    name: str,
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", "-s", help="ingest, read or admin (repeat for several; default: read).")] = None,
) -> None:
    """Create an API key; its token is printed once and only its hash is stored."""
    from infersight.storage.apikeys import create_api_key

    with _ApiKeyTransaction("apikey create") as session:
        try:
            row, token = create_api_key(session, name, scope or ["read"])
        except ValueError as exc:
            typer.echo(f"infersight apikey create: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        scopes = ", ".join(row.scopes)
    typer.echo(token)
    typer.echo(f"API key {name!r} (scopes: {scopes}) created; the token above is shown only once.",
               err=True)


@apikey_app.command("list")
def apikey_list() -> None:
    """List API keys (names, ids, scopes, revocation; never the tokens)."""
    from infersight.storage.apikeys import list_api_keys

    with _ApiKeyTransaction("apikey list") as session:
        rows = [(k.name, k.key_id, ",".join(k.scopes), k.created_at, k.revoked_at)
                for k in list_api_keys(session)]
    if not rows:
        typer.echo("no API keys (create one with: infersight apikey create NAME --scope read)")
        return
    typer.echo(f"{'NAME':24} {'ID':10} {'SCOPES':20} {'CREATED':20} STATUS")
    for name, key_id, scopes, created, revoked in rows:
        status = f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else "active"
        typer.echo(f"{name:24} {key_id:10} {scopes:20} {created:%Y-%m-%d %H:%M:%S}  {status}")


@apikey_app.command("revoke")
def apikey_revoke(name: str) -> None:
    """Revoke an API key (by name or id); requests with it are refused from then on."""
    from infersight.storage.apikeys import revoke_api_key

    with _ApiKeyTransaction("apikey revoke") as session:
        row = revoke_api_key(session, name)
        if row is None:
            typer.echo(f"infersight apikey revoke: no API key named {name!r}", err=True)
            raise typer.Exit(code=1)
        key_name = row.name
    typer.echo(f"API key {key_name!r} revoked")


class _ApiKeyTransaction:
    """A transaction on the settings' database for the apikey commands (exit 2 with the
    reason when the schema is missing)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __enter__(self):  # type: ignore[no-untyped-def]
        from infersight.settings import load_settings
        from infersight.storage.db import make_engine, session_factory

        self.engine = make_engine(load_settings().resolved_database_url(), sqlite_immediate=True)
        self.transaction = session_factory(self.engine).begin()
        return self.transaction.__enter__()

    def __exit__(self, kind, error, traceback) -> None:  # type: ignore[no-untyped-def]
        from sqlalchemy.exc import SQLAlchemyError

        try:
            self.transaction.__exit__(kind, error, traceback)
        except SQLAlchemyError as exc:
            error = exc
        finally:
            self.engine.dispose()
        if isinstance(error, SQLAlchemyError):
            typer.echo(f"infersight {self.command}: database error ({str(error).splitlines()[0]});"
                       " is the schema up to date? run: infersight db upgrade", err=True)
            raise typer.Exit(code=2) from error


@alerts_app.command("test")
def alerts_test(channel: str) -> None:
    """Send a test notification to CHANNEL (a channel of the INFERSIGHT_ALERT_RULES file)."""
    from datetime import UTC, datetime

    from infersight.alerting import alert_config
    from infersight.alerts.channels import DeliveryError
    from infersight.alerts.probe import send_test_notification
    from infersight.alerts.rules_file import AlertConfigError
    from infersight.settings import load_settings

    try:
        config = alert_config(load_settings())
    except (AlertConfigError, ValueError) as error:
        typer.echo(f"infersight alerts test: invalid alert configuration:\n{error}", err=True)
        raise typer.Exit(code=2) from None
    if channel not in config.channels:
        configured = ", ".join(sorted(config.channels)) or "none (set INFERSIGHT_ALERT_RULES)"
        typer.echo(
            f"infersight alerts test: no channel {channel!r}; configured: {configured}", err=True
        )
        raise typer.Exit(code=2)
    try:
        send_test_notification(config, channel, datetime.now(UTC))
    except DeliveryError as error:
        typer.echo(f"infersight alerts test: delivery to {channel!r} failed: {error}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"sent a test notification to {channel!r} ({config.channels[channel].type})")


SERVER_PACKAGES = frozenset({
    "numpy", "scipy", "pandas", "datasketches", "sqlalchemy", "alembic", "psycopg", "fastapi",
    "starlette", "uvicorn", "httpx", "tenacity", "prometheus_client", "pyarrow", "multipart",
    "yaml",
})
"""Import names of the ``server`` extra: a command that needs one on an SDK-only install
exits with code 2 and the line that installs it, never a traceback."""


BLAS_THREAD_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Thread pools of numpy's BLAS: one thread each unless the environment says otherwise."""


def main() -> None:
    import os
    import sys

    from infersight.extras import MissingExtraError

    # A worker does its numeric work on one core and scales by processes (docs/pipeline.md):
    # a BLAS pool spinning on a busy machine cost the window update 40 % more CPU. Set before
    # numpy is first imported, which no command has done yet.
    for name in BLAS_THREAD_SETTINGS:
        os.environ.setdefault(name, "1")
    try:
        app()
    except MissingExtraError as error:
        typer.echo(f"infersight: {error}", err=True)
        raise SystemExit(2) from None
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in SERVER_PACKAGES:
            raise
        command = " ".join(arg for arg in sys.argv[1:3] if not arg.startswith("-"))
        typer.echo(f"infersight {command} needs the server extra ({error.name} is not "
                   "installed): pip install 'infersight[server]'", err=True)
        raise SystemExit(2) from None
