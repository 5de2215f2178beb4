"""CLI: ``infersight apikey create|list|revoke``, ``reference upload`` and ``api``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from typer.testing import CliRunner

from infersight.cli import app
from tests.api.conftest import serve
from tests.support.tansu import free_port

runner = CliRunner()


def test_apikey_create_list_revoke_round_trip(sqlite_url: str) -> None:
    env = {"INFERSIGHT_DATABASE_URL": sqlite_url}
    created = runner.invoke(app, ["apikey", "create", "ci-bot", "--scope", "ingest",
                                  "--scope", "read"], env=env)
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[0]
    assert token.startswith("isk_")
    listed = runner.invoke(app, ["apikey", "list"], env=env)
    assert "ci-bot" in listed.stdout and "ingest,read" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout
    with serve(sqlite_url) as api:
        headers = {"Authorization": f"Bearer {token}"}
        assert api.client.get("/v1/models", headers=headers).status_code == 200
        revoked = runner.invoke(app, ["apikey", "revoke", "ci-bot"], env=env)
        assert revoked.exit_code == 0 and "revoked" in revoked.stdout
        assert api.client.get("/v1/models", headers=headers).status_code == 401
    assert "revoked" in runner.invoke(app, ["apikey", "list"], env=env).stdout
    duplicate = runner.invoke(app, ["apikey", "create", "ci-bot"], env=env)
    assert duplicate.exit_code == 2 and "exists" in duplicate.output
    bad_scope = runner.invoke(app, ["apikey", "create", "x", "--scope", "root"], env=env)
    assert bad_scope.exit_code == 2 and "unknown scope" in bad_scope.output
    missing = runner.invoke(app, ["apikey", "revoke", "nobody"], env=env)
    assert missing.exit_code == 1


def test_apikey_commands_on_an_unmigrated_database_say_what_to_do(tmp_path: Path) -> None:
    env = {"INFERSIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = runner.invoke(app, ["apikey", "list"], env=env)
    assert result.exit_code == 2 and "infersight db upgrade" in result.output


def test_reference_upload_command_sends_a_parquet_file(sqlite_url: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 90, 400), "plan": rng.choice(["a", "b"], 400),
                          "pred": rng.integers(0, 2, 400), "y": rng.integers(0, 2, 400)})
    path = tmp_path / "ref.parquet"
    frame.to_parquet(path)
    with serve(sqlite_url) as api:
        env = {"INFERSIGHT_API_URL": api.url, "INFERSIGHT_API_KEY": api.key("admin")}
        result = runner.invoke(app, ["reference", "upload", "churn", "7", str(path),
                                     "--label-column", "y", "--prediction-column", "pred"], env=env)
        assert result.exit_code == 0, result.output
        assert "400 rows, 2 features" in result.stdout and "accuracy" in result.stdout
        versions = api.get("/v1/models/churn").json()["versions"]
        assert versions[0]["version"] == "7" and versions[0]["has_reference"]
        refused = runner.invoke(app, ["reference", "upload", "churn", "7", str(path),
                                      "--label-column", "nope"], env=env)
        assert refused.exit_code == 1 and "label_column" in refused.output
    wrong = runner.invoke(app, ["reference", "upload", "m", "1", str(tmp_path / "x.txt")])
    assert wrong.exit_code == 2 and ".csv or .parquet" in wrong.output


def test_api_command_serves_on_the_given_port(sqlite_url: str) -> None:
    port = free_port()
    env = {**os.environ, "INFERSIGHT_DATABASE_URL": sqlite_url, "INFERSIGHT_API_BUS": "local",
           "INFERSIGHT_AUTH": "off", "INFERSIGHT_API_ROLLUPS": "false"}
    process = subprocess.Popen([sys.executable, "-m", "infersight", "api", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["status"] == "ready"
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"] == "infersight"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "INFERSIGHT_AUTH=off" in output


def test_reference_upload_command_redacts_and_hashes_like_the_sdk(sqlite_url: str,
                                                                   tmp_path: Path) -> None:
    frame = pd.DataFrame({"amount": np.linspace(1, 100, 200), "email": [f"u{i}@x.io" for i in range(200)],
                          "ssn": [f"{i:09d}" for i in range(200)]})
    path = tmp_path / "ref.csv"
    frame.to_csv(path, index=False)
    with serve(sqlite_url) as api:
        env = {"INFERSIGHT_API_URL": api.url, "INFERSIGHT_API_KEY": api.key("admin")}
        result = runner.invoke(app, ["reference", "upload", "fraud", "1", str(path),
                                     "--redact", "ssn", "--hash", "email"], env=env)
        assert result.exit_code == 0, result.output
        from infersight.drift import Reference
        from infersight.storage.db import make_engine, session_factory
        from infersight.storage.registry import get_reference

        engine = make_engine(sqlite_url)
        with session_factory(engine)() as session:
            stored = get_reference(session, "fraud", "1")
        engine.dispose()
    assert stored is not None
    reference = Reference.from_bytes(stored[0])
    assert sorted(reference.features) == ["amount", "email"]  # ssn never left the machine
    from infersight.sdk.events import hash_value

    categories = set(reference.features["email"].vocabulary) | set(reference.features["email"].extra or ())
    assert hash_value("u0@x.io", b"") in categories and "u0@x.io" not in categories


def test_reference_upload_command_takes_feature_types_and_prints_the_warnings(
        sqlite_url: str, tmp_path: Path) -> None:
    codes = [str(i) if i % 4 else f"code-{i}" for i in range(200)]
    amounts = [str(10 + i) for i in range(200)]
    amounts[9] = "abc"
    path = tmp_path / "mixed.csv"
    path.write_text("code,amount\n" + "\n".join(f"{c},{a}" for c, a in zip(codes, amounts,
                                                                       strict=True)))
    with serve(sqlite_url) as api:
        env = {"INFERSIGHT_API_URL": api.url, "INFERSIGHT_API_KEY": api.key("admin")}
        refused = runner.invoke(app, ["reference", "upload", "shop", "1", str(path)], env=env)
        assert refused.exit_code == 1 and "--feature-types" in refused.output
        result = runner.invoke(app, ["reference", "upload", "shop", "1", str(path),
                                     "--feature-types", "code=categorical"], env=env)
        assert result.exit_code == 0, result.output
        assert "feature 'amount': 1 value(s) are not numbers" in result.output
        assert "row 10 'abc'" in result.output
        kinds = api.get("/v1/models/shop").json()
        assert kinds["versions"][0]["has_reference"]
    bad = runner.invoke(app, ["reference", "upload", "shop", "1", str(path),
                              "--feature-types", "code"])
    assert bad.exit_code == 2 and "NAME=numeric" in bad.output
