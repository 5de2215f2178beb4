"""Load the alert YAML file (``INFERSIGHT_ALERT_RULES``) with errors that name line and field.

Nothing here reads the settings: the caller hands in the file's path and the defaults the
settings give (``infersight/alerting.py`` does, from the ``alert_*`` settings).

The file is parsed twice by PyYAML: ``yaml.compose`` keeps each node's position, and the
plain data is validated by pydantic; every validation error's location (``rules → 1 →
threshold``) is walked down the node tree to the line it came from.

>>> text = '''
... rules:
...   - name: slow
...     metric: latency_p99_ms
...     op: ">"
...     threshold: fast
... '''
>>> try:
...     parse_alert_config(text, source="rules.yaml")
... except AlertConfigError as error:
...     print(error)
rules.yaml:6: rules[0].threshold: Value error, threshold 'fast' is neither a number nor 'reference', 'reference - 0.05', 'reference + 0.1' or 'reference * 1.2'
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from infersight.alerts.config import AlertConfig
from pydantic import ValidationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One error: where (line, dotted field) and why."""

    line: int | None
    field: str
    message: str


class AlertConfigError(ValueError):
    """The alert file is invalid; ``problems`` lists every error with its line."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = []
        for problem in problems:
            where = f"{source}:{problem.line}" if problem.line else source
            field = f" {problem.field}:" if problem.field else ""
            lines.append(f"{where}:{field} {problem.message}")
        super().__init__("\n".join(lines))


def parse_alert_config(
    text: str, source: str = "<alert rules>", defaults: Mapping[str, Any] | None = None
) -> AlertConfig:
    """Validate the YAML text into an :class:`AlertConfig`; ``defaults`` fill absent keys."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise AlertConfigError(source, [Problem(line, "", f"invalid YAML: {reason}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        line = node.start_mark.line + 1 if node is not None else None
        raise AlertConfigError(
            source, [Problem(line, "", "the file must be a mapping with keys such as rules:")]
        )
    problems = [
        Problem(_line_of(node, loc), _dotted(loc), message)
        for loc, message in _undefined_channels(data)
    ]
    merged = {**(defaults or {}), **data}
    if defaults and "disable" in defaults and isinstance(data.get("disable"), list):
        merged["disable"] = [*defaults["disable"], *data["disable"]]
    config = None
    try:
        config = AlertConfig.model_validate(merged)
    except ValidationError as error:
        for item in error.errors():
            if problems and not item["loc"]:
                continue  # the model-level channel check, already reported with its line
            problems.append(Problem(_line_of(node, item["loc"]), _dotted(item["loc"]), item["msg"]))
    if problems or config is None:
        problems.sort(key=lambda p: (p.line or 0, p.field))
        raise AlertConfigError(source, problems)
    return config


def _undefined_channels(data: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    """Channel names used by rules or default_channels but not defined under channels."""
    channels = data.get("channels") or {}
    if not isinstance(channels, dict):
        return []
    defined = ", ".join(sorted(map(str, channels))) or "none"
    found: list[tuple[tuple[int | str, ...], str]] = []
    uses: list[tuple[tuple[int | str, ...], object]] = [
        (("default_channels",), data.get("default_channels"))
    ]
    for section in ("rules", "retraining"):
        entries = data.get(section)
        if isinstance(entries, list):
            uses += [
                ((section, i, "channels"), entry.get("channels"))
                for i, entry in enumerate(entries)
                if isinstance(entry, dict)
            ]
    for loc, names in uses:
        if not isinstance(names, list):
            continue
        for j, name in enumerate(names):
            if isinstance(name, str) and name not in channels:
                found.append(((*loc, j), f"channel {name!r} is not defined (defined: {defined})"))
    return found


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest node the location reaches."""
    if node is None:
        return None
    current: yaml.Node = node
    for part in loc:
        child = None
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    break
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(current.value)
        ):
            child = current.value[part]
        if child is None:
            continue  # pydantic adds parts absent from the file (e.g. a union tag)
        current = child
    return current.start_mark.line + 1


def load_alert_config(path: Path | str | None, defaults: Mapping[str, Any]) -> AlertConfig:
    """The configuration from the YAML file at ``path`` (if any) over ``defaults``."""
    if path is None:
        return AlertConfig.model_validate(dict(defaults))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise AlertConfigError(str(path), [Problem(None, "", f"cannot read: {error}")]) from None
    return parse_alert_config(text, source=str(path), defaults=defaults)


class AlertConfigSource:
    """The current configuration, reloaded when the YAML file changes.

    A file that becomes invalid is reported (logged, and kept in ``last_error``) and the
    previous valid configuration stays in force, so a typo never turns alerting off.
    """

    def __init__(self, path: Path | str | None, defaults: Mapping[str, Any]) -> None:
        self.path = path
        """The rules file (None: only ``defaults`` and the built-in rules)."""
        self.defaults = dict(defaults)
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = self._file_stamp()
        self._config = load_alert_config(path, self.defaults)
        self.last_error: AlertConfigError | None = None

    def _file_stamp(self) -> tuple[float, int] | None:
        if self.path is None:
            return None
        try:
            stat = Path(self.path).stat()
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size)

    def current(self) -> AlertConfig:
        """The configuration, reloading the file first if it changed since the last call."""
        with self._lock:
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._config = load_alert_config(self.path, self.defaults)
                    self.last_error = None
                    log.info("alert rules reloaded from %s", self.path)
                except AlertConfigError as error:
                    self.last_error = error
                    log.error("alert rules not reloaded, keeping the previous ones:\n%s", error)
            return self._config
