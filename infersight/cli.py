"""The ``infersight`` command line (DESIGN §7).

Each command reads the settings when it starts. Commands whose part of the system is
not built yet say so and exit with status 2; they never print fake output.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
app.add_typer(grafana_app, name="grafana")
app.add_typer(apikey_app, name="apikey")
app.add_typer(alerts_app, name="alerts")


def _not_implemented(command: str) -> None:
    typer.echo(f"infersight {command}: not implemented yet", err=True)
    raise typer.Exit(code=2)


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

    from infersight.collector.embedded import StartupError, embedded_settings, start_embedded

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

    from infersight.collector.demo.run import DemoOptions, run_demo
    from infersight.collector.embedded import StartupError
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
    """Run the HTTP API and web page."""
    _not_implemented("api")


@app.command()
def worker() -> None:
    """Run a collector worker (Kafka consumer group member)."""
    import logging

    from infersight.collector.service import run_kafka_worker
    from infersight.settings import load_settings

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

    try:
        from infersight.storage.db import current_revision, normalise_url, upgrade
    except ImportError as exc:  # the base install has no SQLAlchemy/Alembic
        typer.echo(
            f"infersight db upgrade needs the server extra (infersight[server]): {exc}", err=True
        )
        raise typer.Exit(code=2) from exc
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
def reference_upload(model: str, version: str, file: Path) -> None:
    """Upload a reference CSV or Parquet file for MODEL VERSION."""
    _not_implemented("reference upload")


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
    from infersight.settings import load_settings

    try:
        from infersight.dashboards.datasources import PostgresConnection
        from infersight.dashboards.sync import SyncError, connect, sync
    except ImportError as exc:  # the base install has no grafana-client
        typer.echo(f"infersight grafana sync needs the server extra (infersight[server]): {exc}",
                   err=True)
        raise typer.Exit(code=2) from exc
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
def apikey_create(name: str) -> None:
    """Create an API key."""
    _not_implemented("apikey create")


@apikey_app.command("list")
def apikey_list() -> None:
    """List API keys."""
    _not_implemented("apikey list")


@apikey_app.command("revoke")
def apikey_revoke(name: str) -> None:
    """Revoke an API key."""
    _not_implemented("apikey revoke")


@alerts_app.command("test")
def alerts_test(channel: str) -> None:
    """Send a test notification to CHANNEL (a channel of the INFERSIGHT_ALERT_RULES file)."""
    from datetime import UTC, datetime

    from infersight.alerts.channels import DeliveryError
    from infersight.alerts.probe import send_test_notification
    from infersight.alerts.rules_file import AlertConfigError, load_alert_config
    from infersight.settings import load_settings

    try:
        config = load_alert_config(load_settings())
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


def main() -> None:
    app()
