"""The YAML rules file: valid files load, errors name the line and the field, changes reload,
and a broken edit keeps the previous rules in force. Also ``infersight alerts test``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from infersight.alerts.rules_file import AlertConfigError, parse_alert_config
from typer.testing import CliRunner

from infersight.alerting import alert_config, alert_config_source
from infersight.cli import app
from infersight.settings import Settings
from tests.alerts.receivers import Receiver

VALID = """\
channels:
  oncall:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret_env: ONCALL_SECRET
  team-slack:
    type: slack
    url_env: SLACK_URL
default_channels: [oncall]
disable: [latency_p99_slo]
rules:
  - name: precision_drop
    model: "fraud*"
    metric: precision
    op: "<"
    threshold: reference - 0.05
    for: 2
    min_samples: 200
    severity: critical
    channels: [oncall, team-slack]
    cooldown: 1h
    labels: {team: risk}
  - name: amount_psi
    metric: psi
    feature: amount
    op: ">"
    threshold: 0.25
"""


def test_valid_file_loads_with_rules_channels_and_disabled_builtins() -> None:
    config = parse_alert_config(VALID, "rules.yaml")
    names = {r.name for r in config.active_rules()}
    assert {"precision_drop", "amount_psi", "data_drift_share"} <= names
    assert "latency_p99_slo" not in names
    rule = next(r for r in config.rules if r.name == "precision_drop")
    assert rule.for_windows == 2 and rule.cooldown == 3600.0
    assert rule.threshold.resolve(0.9) == pytest.approx(0.85)
    assert config.channels["team-slack"].type == "slack"


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "reason"),
    [
        (
            "threshold: reference - 0.05",
            "threshold: refrence - 0.05",
            16,
            "rules[0].threshold",
            "neither a number nor 'reference'",
        ),
        ('op: "<"', 'op: "=<"', 15, "rules[0].op", "'>', '>=', '<'"),
        ("for: 2", "for: two", 17, "rules[0].for", "integer"),
        ("cooldown: 1h", "cooldown: 1 hour", 21, "rules[0].cooldown", "invalid duration"),
        ("    metric: psi\n", "", 23, "rules[1].metric", "Field required"),
        (
            "    threshold: 0.25\n",
            "    threshold: 0.25\n    treshold: 1\n",
            28,
            "rules[1].treshold",
            "Extra inputs",
        ),
        (
            "channels: [oncall, team-slack]",
            "channels: [oncall, pager]",
            20,
            "rules[0].channels[1]",
            "channel 'pager' is not defined (defined: oncall, team-slack)",
        ),
        (
            "default_channels: [oncall]",
            "default_channels: [on-call]",
            9,
            "default_channels[0]",
            "channel 'on-call' is not defined",
        ),
        ("    type: slack", "    type: email", 7, "channels.team-slack", "tag 'email'"),
        (
            "url: http://127.0.0.1:9/hook",
            "url: not-a-url",
            4,
            "channels.oncall.webhook.url",
            "should match pattern",
        ),
    ],
)
def test_errors_name_the_line_and_the_field(old, new, line, field, reason) -> None:
    text = VALID.replace(old, new)
    assert text != VALID
    with pytest.raises(AlertConfigError) as caught:
        parse_alert_config(text, "rules.yaml")
    problem = caught.value.problems[0]
    message = str(caught.value)
    assert (problem.line, problem.field) == (line, field), message
    assert reason in message and message.startswith(f"rules.yaml:{line}: {field}:")


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(AlertConfigError) as caught:
        parse_alert_config("rules:\n  - name: x\n    metric: [unclosed\n", "r.yaml")
    assert caught.value.problems[0].line is not None
    assert "invalid YAML" in str(caught.value)


def test_non_mapping_file_is_refused_clearly() -> None:
    with pytest.raises(AlertConfigError, match="must be a mapping"):
        parse_alert_config("- just\n- a list\n", "r.yaml")


def test_source_reloads_on_change_and_keeps_the_last_good_config(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID)
    source = alert_config_source(Settings(alert_rules=path))
    assert "amount_psi" in {r.name for r in source.current().rules}

    def rewrite(text: str) -> None:
        path.write_text(text)
        stamp = time.time() + 5  # a distinct mtime even on coarse file systems
        os.utime(path, (stamp, stamp))

    rewrite(VALID.replace("amount_psi", "amount_psi_v2"))
    assert "amount_psi_v2" in {r.name for r in source.current().rules}
    rewrite(VALID.replace("threshold: 0.25", "threshold: lots"))
    assert "amount_psi_v2" in {r.name for r in source.current().rules}
    assert source.last_error is not None and ":27: rules[1].threshold" in str(source.last_error)


def test_disabled_rules_setting_adds_to_the_files_list(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID)
    source = alert_config_source(
        Settings(alert_rules=path, alert_disabled_rules="prediction_drift, performance_drop")
    )
    assert set(source.current().disable) == {
        "latency_p99_slo",
        "prediction_drift",
        "performance_drop",
    }


def test_cli_alerts_test_sends_a_signed_test_notification(tmp_path: Path, monkeypatch) -> None:
    receiver = Receiver(secret="cli-secret").start()
    try:
        path = tmp_path / "rules.yaml"
        path.write_text(VALID.replace("http://127.0.0.1:9/hook", receiver.url))
        monkeypatch.setenv("INFERSIGHT_ALERT_RULES", str(path))
        monkeypatch.setenv("ONCALL_SECRET", "cli-secret")
        result = CliRunner().invoke(app, ["alerts", "test", "oncall"])
        assert result.exit_code == 0, result.output
        [request] = receiver.accepted
        assert request["json"]["status"] == "test" and receiver.bad_signatures == 0
        missing = CliRunner().invoke(app, ["alerts", "test", "nowhere"])
        assert missing.exit_code == 2 and "configured: oncall, team-slack" in missing.output
        receiver.stop()
        down = CliRunner().invoke(app, ["alerts", "test", "oncall"])
        assert down.exit_code == 1 and "failed" in down.output
    finally:
        receiver.stop()


def test_cli_alerts_test_reports_an_invalid_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID.replace("for: 2", "for: -1"))
    monkeypatch.setenv("INFERSIGHT_ALERT_RULES", str(path))
    result = CliRunner().invoke(app, ["alerts", "test", "oncall"])
    assert result.exit_code == 2
    assert f"{path}:17: rules[0].for" in result.output


def test_every_error_is_reported_at_once_in_line_order() -> None:
    text = (
        VALID.replace("threshold: reference - 0.05", "threshold: refrence - 0.05")
        .replace("channels: [oncall, team-slack]", "channels: [oncall, pager]")
        .replace("threshold: 0.25", "threshold: lots")
    )
    with pytest.raises(AlertConfigError) as caught:
        parse_alert_config(text, "rules.yaml")
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (16, "rules[0].threshold"),
        (20, "rules[0].channels[1]"),
        (27, "rules[1].threshold"),
    ]


def test_the_documented_example_file_is_valid() -> None:
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    example = next((block for block in blocks if "channels:" in block), None)
    assert example is not None
    config = parse_alert_config(example, "docs/alerts.md")
    assert {"oncall", "am", "team-slack", "pager", "grafana"} == set(config.channels)


def test_links_default_to_the_api_url_and_the_grafana_sync_url() -> None:
    links = alert_config(
        Settings(api_url="http://api:8000", grafana_url="http://grafana:3000")
    ).links
    assert (links.page_url, links.grafana_url, links.dashboard_uid) == (
        "http://api:8000",
        "http://grafana:3000",
        "infersight-model",
    )
