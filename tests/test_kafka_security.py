"""TLS and SASL for every Kafka client (SDK producer, API publisher, worker consumer and
dead-letter producer), from the one settings model :class:`KafkaSecurity`.

TLS is tested on the wire: the real broker behind a TLS listener (a terminator with a
throwaway CA, as a managed Kafka presents itself), the SDK, the API and the worker all
configured by ``INFERSIGHT_KAFKA_*`` settings. The test broker (Tansu) cannot authenticate
SASL users it has not been given beforehand, so SASL is tested on the real kafka-python
client objects our code builds: their configuration holds the mechanism and credentials.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
import trustme
from infersight.collector.api.publisher import KafkaPublisher
from infersight.collector.worker.kafka_bus import KafkaConsumerBus, KafkaDeadLetterPublisher
from infersight.collector.worker.loop import Worker
from infersight.sdk import wire
from infersight.sdk.kafka_security import ENV, KafkaSecurity
from infersight.sdk.transport_kafka import KafkaTransport
from infersight.storage.db import upgrade
from kafka import KafkaConsumer, KafkaProducer

import infersight
from infersight.settings import Settings
from infersight.worker_service import build_kafka_worker
from tests.support.tansu import TansuBroker, free_port
from tests.support.tls_proxy import TlsTerminator

NO_PROBE = {"api_version": (3, 9)}
"""A known broker version: kafka-python builds its clients without connecting."""


@dataclass
class TlsBroker:
    bootstrap: str
    cafile: Path
    terminator: TlsTerminator


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    """The real broker reachable only through TLS (it advertises the TLS port)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    broker_port = free_port()
    terminator = TlsTerminator(("127.0.0.1", broker_port), context)
    broker = TansuBroker(port=broker_port, log_path=tmp_path / "tansu.log",
                         advertised_port=terminator.port)
    broker.start()
    try:
        yield TlsBroker(f"127.0.0.1:{terminator.port}", cafile, terminator)
    finally:
        broker.stop()
        terminator.close()


def _tls_env(broker: TlsBroker) -> dict[str, str]:
    return {"INFERSIGHT_KAFKA_SECURITY_PROTOCOL": "SSL",
            "INFERSIGHT_KAFKA_SSL_CAFILE": str(broker.cafile)}


@pytest.mark.kafka
def test_sdk_api_and_worker_speak_tls_to_the_broker_from_the_settings(
    tls_broker: TlsBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in _tls_env(tls_broker).items():
        monkeypatch.setenv(name, value)
    settings = Settings(kafka_bootstrap_servers=tls_broker.bootstrap,
                        database_url=f"sqlite:///{tmp_path / 'w.db'}", worker_group="tls",
                        worker_metrics_port=0, alert_disabled_rules="")
    assert settings.kafka_security().protocol == "SSL"

    infersight.init(transport=f"kafka://{tls_broker.bootstrap}", flush_interval=0.05)
    infersight.log_prediction(model="tls", prediction_id="sdk-1", features={"x": 1.0},
                              prediction=0.5)
    try:
        assert infersight.flush(timeout=20), infersight.stats()
    finally:
        infersight.shutdown(timeout=2)

    publisher = KafkaPublisher(tls_broker.bootstrap, security=settings.kafka_security())
    event = {"type": "prediction", "model": "tls", "prediction_id": "api-1",
             "ts": "2026-01-01T00:00:00Z", "features": {"x": 2.0}, "prediction": 0.1}
    try:
        publisher.publish_all([(wire.EVENTS_TOPIC, b"tls/1", wire.encode_batch([event]))], 20)
    finally:
        publisher.close()

    upgrade(settings.resolved_database_url())
    worker = build_kafka_worker(settings)  # consumer and dead-letter producer, over TLS
    try:
        deadline = time.monotonic() + 60
        while _consumed(worker, wire.EVENTS_TOPIC) < 2:
            assert time.monotonic() < deadline, (
                f"the worker consumed {_consumed(worker, wire.EVENTS_TOPIC)} of 2 messages")
            worker.step()
    finally:
        worker.close()
    assert tls_broker.terminator.handshakes >= 4  # each client connected through TLS


def _consumed(worker: Worker, topic: str) -> int:
    """Messages of ``topic`` the worker committed (every partition it owns)."""
    return sum(worker.positions.next_offset(tp) or 0 for tp in worker.positions.owned(topic))


def test_sasl_settings_reach_every_kafka_client_built_from_them() -> None:
    security = KafkaSecurity.from_environ({
        ENV["protocol"]: "SASL_SSL", ENV["sasl_mechanism"]: "SCRAM-SHA-256",
        ENV["sasl_username"]: "infersight", ENV["sasl_password"]: "s3cret",
        ENV["ssl_check_hostname"]: "false",
    })
    expected = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256",
                "sasl_plain_username": "infersight", "sasl_plain_password": "s3cret",
                "ssl_check_hostname": False}
    nowhere = f"127.0.0.1:{free_port()}"

    transport = KafkaTransport.from_url(f"kafka://{nowhere}", environ={
        ENV[name]: str(value) for name, value in
        [("protocol", "SASL_SSL"), ("sasl_mechanism", "SCRAM-SHA-256"),
         ("sasl_username", "infersight"), ("sasl_password", "s3cret"),
         ("ssl_check_hostname", "false")]})
    transport.producer_options.update(NO_PROBE)
    publisher = KafkaPublisher(nowhere, security=security, **NO_PROBE)
    producers: list[KafkaProducer] = [transport._ensure_producer(), publisher._get()]
    letters = KafkaDeadLetterPublisher(nowhere, wire.DEADLETTER_TOPIC,
                                       **security.client_options(), **NO_PROBE)
    producers.append(letters._producer)
    bus = KafkaConsumerBus(nowhere, "sasl", [wire.EVENTS_TOPIC],
                           **security.client_options(), **NO_PROBE)
    consumer: KafkaConsumer = bus._consumer
    try:
        for client in [*producers, consumer]:
            assert {key: client.config[key] for key in expected} == expected
    finally:
        for producer in producers:
            producer.close(timeout=0)
        consumer.close(autocommit=False)


@pytest.mark.parametrize(("environ", "message"), [
    ({"protocol": "SASL_SSL"}, "needs INFERSIGHT_KAFKA_SASL_MECHANISM"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_password": "x"},
     "needs INFERSIGHT_KAFKA_SASL_USERNAME and INFERSIGHT_KAFKA_SASL_PASSWORD"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_username": "u",
      "sasl_password": "p"}, "must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
    ({"protocol": "TLS"}, "must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    ({"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p"},
     "SASL settings are set but INFERSIGHT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"),
    ({"protocol": "PLAINTEXT", "ssl_cafile": "/etc/hostname"}, "use SSL or SASL_SSL"),
    ({"protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "no such file"),
    ({"protocol": "SSL", "ssl_keyfile": "/etc/hostname"}, "needs INFERSIGHT_KAFKA_SSL_CERTFILE"),
    ({"protocol": "SSL", "ssl_check_hostname": "maybe"}, "must be true or false"),
])
def test_invalid_kafka_security_is_refused_with_the_setting_and_the_fix(
    environ: dict[str, str], message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaSecurity.from_environ({ENV[name]: value for name, value in environ.items()})


def test_a_bad_combination_fails_when_the_service_settings_are_read_without_leaking_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INFERSIGHT_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("INFERSIGHT_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("INFERSIGHT_KAFKA_SASL_PASSWORD", "hunter2-secret")
    with pytest.raises(ValueError, match="needs INFERSIGHT_KAFKA_SASL_USERNAME") as caught:
        Settings()
    assert "hunter2-secret" not in str(caught.value)
    assert "hunter2-secret" not in repr(KafkaSecurity(
        protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="u",
        sasl_password="hunter2-secret"))


def test_the_services_settings_and_the_sdk_read_the_same_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One model: every KafkaSecurity field is a service setting of the same variable."""
    settings_fields = set(Settings.model_fields)
    for item in fields(KafkaSecurity):
        setting = ENV[item.name].removeprefix("INFERSIGHT_").lower()
        assert setting in settings_fields, f"{ENV[item.name]} is not a service setting"
    environ = {ENV["protocol"]: "SSL", ENV["ssl_cafile"]: "/etc/hostname",
               ENV["ssl_check_hostname"]: "false"}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert Settings().kafka_security() == KafkaSecurity.from_environ(environ)
