"""MQTT broker address and a faster paho-mqtt client for :mod:`lakehouse.ingest.mqtt`
(the design is documented there)."""

from __future__ import annotations

import gc
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from lakehouse.settings import Settings


class BrokerUnavailable(ConnectionError):
    """The broker cannot be reached or refused the session; the message says how to fix it."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://[user:pass@]host[:port]`` (``mqtts://`` for TLS)."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"{url!r} is not an MQTT URL such as mqtt://127.0.0.1:1883")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883),
                   parts.username, parts.password, tls)

    def __str__(self) -> str:
        return f"mqtt{'s' if self.tls else ''}://{self.host}:{self.port}"


def resolve_url(url: str | None, settings: Settings) -> BrokerAddress:
    if not (url or settings.mqtt_url):
        raise BrokerUnavailable("no MQTT broker configured: set IOC_MQTT_URL, e.g. mqtt://127.0.0.1:1883")
    return BrokerAddress.parse(url or settings.mqtt_url)


def _unreachable(address: BrokerAddress, why: object) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"MQTT broker {address} unreachable ({why}). Start one with "
        "`mosquitto -d -c /etc/mosquitto/mosquitto.conf`, or point IOC_MQTT_URL at yours."
    )


# --------------------------------------------------------------------------- paho, faster

_PUBACK = 0x40
_PUBACK_PACKET = struct.Struct("!BBH")
_READ_SIZE = 1 << 18


#: on_publish sink: (topic bytes, payload, packet id, qos)
Sink = Callable[[bytes, bytes, int, int], None]


class _Client(mqtt.Client):
    """paho's client, three hot paths replaced (paho 2.x internals, each falling back to
    paho's own code when a packet is not the plain case):

    * socket reads are buffered: paho reads a packet's header byte by byte, one syscall each;
    * a v5 QoS 0/1 PUBLISH goes straight to ``sink`` as ``(topic, payload, mid, qos)``:
      paho builds a ``Properties`` (27 names, string munging), an ``MQTTMessage`` and a
      ``threading.Condition`` per message and matches per-topic callbacks, ~25 µs together.
      Properties are skipped: the consumer announces no topic aliases, so none can change
      a message's meaning;
    * the acks of a batch go out as one write instead of one packet + wake-up each.
    """

    _rbuf: bytes = b""
    _rpos: int = 0
    _rsock: object = None
    sink: Sink | None = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:  # a new connection: forget the old bytes
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(_READ_SIZE)
            if not data:
                return data
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start:self._rpos]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        # select() cannot see bytes already in our buffer: consume them all before returning.
        rc = super().loop_read(max_packets)
        while (rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None
               and self._rsock is self._sock and self._rpos < len(self._rbuf)):
            rc = super().loop_read(max_packets)
        return rc

    def _handle_publish(self) -> MQTTErrorCode:
        header, packet = self._in_packet["command"], self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        if (self.sink is None or qos == 2 or not self._manual_ack or self._protocol != mqtt.MQTTv5
                or len(packet) < 3):
            return super()._handle_publish()
        end = 2 + ((packet[0] << 8) | packet[1])
        if end == 2:  # an empty topic would need a topic alias: paho's path reports it
            return super()._handle_publish()
        try:
            topic, mid, pos = bytes(packet[2:end]), 0, end
            if qos:
                mid, pos = (packet[pos] << 8) | packet[pos + 1], pos + 2
            length, shift = 0, 0
            while True:  # property length, a variable byte integer; the properties are skipped
                byte = packet[pos]
                pos += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
        except IndexError:
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        self.sink(topic, bytes(packet[pos + length:]), mid, qos)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: Sequence[int]) -> None:
        if not mids:
            return
        if not hasattr(self, "_packet_queue"):  # pragma: no cover - other paho versions
            for mid in mids:
                self.ack(mid, 1)
            return
        blob = b"".join([_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in mids])
        self._packet_queue(_PUBACK, blob, 0, 0)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Decoding a batch allocates ~20 dicts per message; generational GC passes over them
    cost more than the decoding itself, and none of them form cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
