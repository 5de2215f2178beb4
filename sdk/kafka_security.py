"""How every Kafka client of infersight authenticates and encrypts: TLS and SASL settings.

One model for the SDK's producer, the API's publisher and the worker's consumer and
dead-letter producer. The SDK reads it from ``INFERSIGHT_KAFKA_SECURITY_PROTOCOL`` and its siblings itself
(:meth:`KafkaSecurity.from_environ`); the services read the same variables through their
settings. :meth:`KafkaSecurity.client_options` gives kafka-python's names. Invalid
combinations raise ``ValueError`` naming the variable and the fix.

>>> security = KafkaSecurity.from_environ({
...     "INFERSIGHT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
...     "INFERSIGHT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
...     "INFERSIGHT_KAFKA_SASL_USERNAME": "infersight",
...     "INFERSIGHT_KAFKA_SASL_PASSWORD": "s3cret",
... })
>>> sorted(security.client_options().items())  # doctest: +NORMALIZE_WHITESPACE
[('sasl_mechanism', 'SCRAM-SHA-512'), ('sasl_plain_password', 's3cret'),
 ('sasl_plain_username', 'infersight'), ('security_protocol', 'SASL_SSL')]
>>> security
KafkaSecurity(protocol='SASL_SSL', sasl_mechanism='SCRAM-SHA-512', sasl_username='infersight', sasl_password='***', ...)
>>> KafkaSecurity(protocol="SASL_SSL", sasl_mechanism="PLAIN")
Traceback (most recent call last):
...
ValueError: INFERSIGHT_KAFKA_SASL_MECHANISM=PLAIN needs INFERSIGHT_KAFKA_SASL_USERNAME and INFERSIGHT_KAFKA_SASL_PASSWORD
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["MECHANISMS", "PROTOCOLS", "KafkaSecurity"]

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

ENV = {
    "protocol": "INFERSIGHT_KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "INFERSIGHT_KAFKA_SASL_MECHANISM",
    "sasl_username": "INFERSIGHT_KAFKA_SASL_USERNAME",
    "sasl_password": "INFERSIGHT_KAFKA_SASL_PASSWORD",
    "ssl_cafile": "INFERSIGHT_KAFKA_SSL_CAFILE",
    "ssl_certfile": "INFERSIGHT_KAFKA_SSL_CERTFILE",
    "ssl_keyfile": "INFERSIGHT_KAFKA_SSL_KEYFILE",
    "ssl_key_password": "INFERSIGHT_KAFKA_SSL_KEY_PASSWORD",
    "ssl_check_hostname": "INFERSIGHT_KAFKA_SSL_CHECK_HOSTNAME",
}
"""The environment variable of each field."""

_CLIENT_NAMES = {
    "protocol": "security_protocol",
    "sasl_mechanism": "sasl_mechanism",
    "sasl_username": "sasl_plain_username",
    "sasl_password": "sasl_plain_password",
    "ssl_cafile": "ssl_cafile",
    "ssl_certfile": "ssl_certfile",
    "ssl_keyfile": "ssl_keyfile",
    "ssl_key_password": "ssl_password",
    "ssl_check_hostname": "ssl_check_hostname",
}
_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """TLS/SASL settings of a Kafka client; the default is plaintext, no authentication."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    """CA bundle that signed the brokers' certificates (default: the system's)."""
    ssl_certfile: str | None = None
    """Client certificate, for brokers that authenticate clients by TLS (mTLS)."""
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = None
    ssl_check_hostname: bool = True

    def __post_init__(self) -> None:
        protocol = self.protocol.strip().upper()
        object.__setattr__(self, "protocol", protocol)
        if protocol not in PROTOCOLS:
            raise ValueError(f"{ENV['protocol']} must be one of {', '.join(PROTOCOLS)}, "
                             f"got {self.protocol!r}")
        mechanism = self.sasl_mechanism.strip().upper() if self.sasl_mechanism else None
        object.__setattr__(self, "sasl_mechanism", mechanism)
        uses_sasl = protocol.startswith("SASL_")
        if mechanism is not None and mechanism not in MECHANISMS:
            raise ValueError(f"{ENV['sasl_mechanism']} must be one of {', '.join(MECHANISMS)}, "
                             f"got {self.sasl_mechanism!r}")
        if uses_sasl and mechanism is None:
            raise ValueError(f"{ENV['protocol']}={protocol} needs {ENV['sasl_mechanism']} "
                             f"({', '.join(MECHANISMS)})")
        if not uses_sasl and (mechanism or self.sasl_username or self.sasl_password):
            raise ValueError(f"SASL settings are set but {ENV['protocol']}={protocol}: "
                             "use SASL_SSL (or SASL_PLAINTEXT)")
        if mechanism is not None and not (self.sasl_username and self.sasl_password):
            raise ValueError(f"{ENV['sasl_mechanism']}={mechanism} needs "
                             f"{ENV['sasl_username']} and {ENV['sasl_password']}")
        uses_tls = protocol in ("SSL", "SASL_SSL")
        given_files = [name for name in _FILES if getattr(self, name)]
        if given_files and not uses_tls:
            raise ValueError(f"{ENV[given_files[0]]} is set but {ENV['protocol']}={protocol}: "
                             "use SSL or SASL_SSL")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError(f"{ENV['ssl_keyfile']} needs {ENV['ssl_certfile']}")
        for name in given_files:
            if not Path(str(getattr(self, name))).is_file():
                raise ValueError(f"{ENV[name]}: no such file {getattr(self, name)!r}")

    def __repr__(self) -> str:  # never print secrets
        return (f"KafkaSecurity(protocol={self.protocol!r}, sasl_mechanism="
                f"{self.sasl_mechanism!r}, sasl_username={self.sasl_username!r}, "
                f"sasl_password={'***' if self.sasl_password else None!r}, ...)")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> KafkaSecurity:
        """The settings the Kafka security variables give (empty ones are unset)."""
        given: dict[str, Any] = {}
        for name, variable in ENV.items():
            value = environ.get(variable)
            if value is None or value.strip() == "":
                continue
            given[name] = _flag(value, variable) if name == "ssl_check_hostname" else value
        return cls(**given)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's ``KafkaProducer``/``KafkaConsumer`` (only the
        settings that differ from kafka-python's defaults)."""
        options: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "protocol" or (value is not None and value != item.default):
                options[_CLIENT_NAMES[item.name]] = value
        return options


def _flag(value: str, variable: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{variable} must be true or false, got {value!r}")
