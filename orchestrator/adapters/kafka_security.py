"""Transport security for every Kafka client the engine creates: one SSL context, one set of options.

The worker (faust over aiokafka), the topic admin and the tools' producers and readers
(kafka-python) all take their security from ``KafkaSecurity.client_options()``; the option
names of aiokafka and kafka-python agree. faust takes the same context and secret through
its own credentials objects, built in ``faust_app`` (the only faust importer).

    PLAINTEXT       nothing
    SSL             TLS, server certificate checked against the CA (and host name)
    SASL_SSL        TLS as above, then SASL (PLAIN or SCRAM) inside it
    SASL_PLAINTEXT  SASL without TLS: the password crosses the network in clear; only on request
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

log = logging.getLogger("orchestrator.kafka")


class MaskedStr(str):
    """A secret handed to a client library as the plain string it needs, whose repr is masked:
    kafka-python logs its whole configuration (a dict, so the repr of every value) at DEBUG."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'**********'"


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    key_password: SecretStr | None = None

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying client context (CA file or the system's roots, host name checked), with the
        client certificate when one is configured; None without TLS."""
        if not self.tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.certfile:
            password = self.key_password.get_secret_value() if self.key_password else None
            context.load_cert_chain(self.certfile, self.keyfile, password=password)  # used here, never kept
        return context

    def client_options(self) -> dict[str, object]:
        """Keyword arguments for aiokafka and kafka-python clients (producer, consumer, admin)."""
        options: dict[str, object] = {"security_protocol": self.protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.sasl_password()
        return options

    def sasl_password(self) -> str:
        """The SASL secret, for a client about to use it (warns when it will cross the network in clear)."""
        if not self.tls:
            log.warning("KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT: the SASL password crosses the network in clear")
        return MaskedStr(self.password.get_secret_value() if self.password else "")
