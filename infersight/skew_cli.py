"""``infersight skew upload``: offline feature values of served requests, for the train/serve
skew by key (docs/statistics.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

skew_app = typer.Typer(help="Train/serve skew by key: offline feature values of served requests.",
                       no_args_is_help=True)


@skew_app.command("upload")
def skew_upload(
    model: str,
    version: str,
    file: Path,
    id_column: Annotated[str, typer.Option(help="Column of the prediction ids.")] = "prediction_id",
    redact: Annotated[list[str] | None, typer.Option(
        help="Column to leave out, as monitor(redact=...) does (repeat for several).")] = None,
    hash_column: Annotated[list[str] | None, typer.Option(
        "--hash", help="Column to send hashed, as monitor(hash=...) does (repeat for several; "
        "salt: INFERSIGHT_HASH_SALT).")] = None,
) -> None:
    """Upload offline feature values (CSV or Parquet, one row per served request) for the
    train/serve skew of MODEL VERSION (to INFERSIGHT_API_URL).

    The file goes through the SDK's client as a reference upload does: values are cleaned,
    redacted and hashed exactly as the SDK treats live events.
    """
    from infersight.reference_file import READERS, ReferenceFileError, upload_skew_file
    from infersight.sdk import ReferenceUploadError
    from infersight.settings import load_settings

    if file.suffix.lower() not in READERS or not file.is_file():
        problem = "no such file" if file.suffix.lower() in READERS else "expected a .csv or .parquet file"
        typer.echo(f"infersight skew upload: {file}: {problem}", err=True)
        raise typer.Exit(code=2)
    settings = load_settings()
    try:
        answer = upload_skew_file(model, version, file, id_column=id_column,
                                  api_url=settings.api_url, api_key=settings.api_key,
                                  redact=redact or (), hash=hash_column or ())
    except (ReferenceFileError, ReferenceUploadError) as exc:
        typer.echo(f"infersight skew upload: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"skew rows of {model} {version}: {answer.get('rows')} rows, "
               f"{answer.get('stored')} stored, {answer.get('duplicates')} duplicates, "
               f"{len(answer.get('features') or [])} features")
