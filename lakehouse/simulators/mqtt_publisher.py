"""The province's sensor gateways, simulated: publish generated NGSI-LD streams over MQTT.

Two publishers, one message format (``(topic, payload bytes)``):

* :func:`publish_messages` / :func:`publish_generated`: paho-mqtt at QoS 1, optionally
  rate-limited, and robust to broker restarts (paho reconnects and re-sends what was not
  acknowledged; a re-send is a duplicate the consumer deduplicates, as with real devices);
* :func:`fast_publish`: a minimal MQTT 3.1.1 QoS 1 publisher on a raw socket (pre-encoded
  packets, one ``sendall`` per chunk, PUBACKs counted in bulk). paho spends ~100 µs of
  Python per QoS 1 publish, which on a 2-core machine would leave the consumer under
  benchmark short of CPU; this one spends ~2 µs. It does not reconnect: benchmarks only.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lakehouse.ingest.mqtt import BrokerAddress

Message = tuple[str, bytes]


def read_generated(out_dir: Path | str, datasets: Sequence[str] | None = None,
                   topics: Mapping[str, str] | None = None) -> list[Message]:
    """``out_dir/mqtt/<dataset>.jsonl`` lines as messages, in file order. ``topics`` maps
    a topic prefix to another (tests publish under a unique prefix)."""
    files = sorted((Path(out_dir) / "mqtt").glob("*.jsonl"))
    if datasets is not None:
        files = [f for f in files if f.stem in set(datasets)]
    messages: list[Message] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                topic = retopic(record["topic"], topics or {})
                messages.append((topic, json.dumps(record["payload"], ensure_ascii=False).encode()))
    return messages


def retopic(topic: str, topics: Mapping[str, str]) -> str:
    for old, new in topics.items():
        if topic == old or topic.startswith(old.rstrip("/") + "/"):
            return new.rstrip("/") + topic[len(old.rstrip("/")):]
    return topic


def publish_messages(url: str, messages: Iterable[Message], *, qos: int = 1, rate: float | None = None,
                     client_id: str | None = None, window: int = 10_000, timeout: float = 120.0) -> int:
    """Publish with paho; ``rate`` in messages/s (None: as fast as paho goes). Returns the
    number published once every QoS 1/2 message is acknowledged by the broker; raises
    ``TimeoutError`` if that takes longer than ``timeout`` after the last publish."""
    address = BrokerAddress.parse(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"ioc-sim-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv311)
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set()
    # Unlimited in-flight (our window bounds it below 65535 packet ids): paho re-sends every
    # unacknowledged message after a reconnect only when none sits in its "queued" state.
    client.max_inflight_messages_set(0)
    client.reconnect_delay_set(0.1, 2)
    # Packet ids acknowledged / awaited. A PUBACK may beat the bookkeeping after publish();
    # paho is never called while ``lock`` is held (its callbacks run under paho's locks).
    lock = threading.Lock()
    outstanding: set[int] = set()
    early: set[int] = set()

    def on_publish(_c: mqtt.Client, _u: object, mid: int, _rc: object, _p: object) -> None:
        with lock:
            if mid in outstanding:
                outstanding.discard(mid)
            else:
                early.add(mid)

    client.on_publish = on_publish
    client.connect(address.host, address.port, keepalive=30)
    client.loop_start()
    count = 0
    started = time.monotonic()
    try:
        for topic, payload in messages:
            if rate:
                ahead = started + count / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            while len(outstanding) >= window:
                time.sleep(0.001)
            # Published while the broker is away, a message reports NO_CONN but paho keeps
            # it and sends it after reconnecting: its PUBACK is what counts.
            info = client.publish(topic, payload, qos=qos)
            if qos:
                with lock:
                    if info.mid in early:
                        early.discard(info.mid)
                    else:
                        outstanding.add(info.mid)
            count += 1
        deadline = time.monotonic() + timeout
        while outstanding:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(outstanding)} of {count} messages not acknowledged by {address}")
            time.sleep(0.005)
    finally:
        client.disconnect()
        client.loop_stop()
    return count


def publish_generated(out_dir: Path | str, url: str, *, qos: int = 1, rate: float | None = None,
                      datasets: Sequence[str] | None = None, topics: Mapping[str, str] | None = None,
                      client_id: str | None = None) -> int:
    """Publish the generator's ``mqtt/*.jsonl`` streams; returns the number of messages."""
    return publish_messages(url, read_generated(out_dir, datasets, topics), qos=qos, rate=rate,
                            client_id=client_id)


# --------------------------------------------------------------------------- benchmarks


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(data)) + data


def _connect_packet(client_id: str, address: BrokerAddress, keepalive: int) -> bytes:
    flags, payload = 0x02, _utf8(client_id)  # clean session
    if address.username:
        flags |= 0x80
        payload += _utf8(address.username)
        if address.password:
            flags |= 0x40
            payload += _utf8(address.password)
    body = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return b"\x10" + _length(len(body)) + body


class _Acks:
    """Counts PUBACKs from a non-blocking socket (any other packet is skipped)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer, self.count = sock, b"", 0

    def read(self, timeout: float) -> None:
        if not select.select([self.sock], [], [], timeout)[0]:
            return
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("broker closed the connection")
        self.buffer += data
        pos = 0
        while len(self.buffer) - pos >= 2:
            length, shift, i = 0, 0, pos + 1
            while i < len(self.buffer):
                byte = self.buffer[i]
                length |= (byte & 0x7F) << shift
                shift += 7
                i += 1
                if not byte & 0x80:
                    break
            else:
                break
            if len(self.buffer) - i < length:
                break
            if self.buffer[pos] & 0xF0 == 0x40:
                self.count += 1
            pos = i + length
        self.buffer = self.buffer[pos:]


def fast_publish(url: str, messages: Sequence[Message], *, qos: int = 1, rate: float | None = None,
                 chunk: int = 256, window: int = 20_000, client_id: str | None = None, keepalive: int = 60,
                 on_chunk: Callable[[int, float], None] | None = None, timeout: float = 120.0) -> int:
    """Publish ``messages`` as fast as the broker takes them, or at ``rate`` messages/s
    (benchmarks). ``on_chunk(end,
    time.time())`` is called after each chunk of ``chunk`` messages is written to the socket;
    returns once every message is acknowledged (QoS 1) or written (QoS 0)."""
    address = BrokerAddress.parse(url)
    sock = socket.create_connection((address.host, address.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(_connect_packet(client_id or f"ioc-fastpub-{uuid.uuid4().hex[:8]}", address, keepalive))
    connack = sock.recv(4)
    if len(connack) < 4 or connack[0] != 0x20 or connack[3] != 0:
        raise ConnectionError(f"{address} refused the connection: {connack!r}")
    sock.setblocking(False)
    acks = _Acks(sock)
    topics: dict[str, bytes] = {}
    header = 0x32 if qos else 0x30
    mid = 0
    started = time.monotonic()
    try:
        for start in range(0, len(messages), chunk):
            if rate:
                ahead = started + start / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            parts = []
            for topic, payload in messages[start:start + chunk]:
                encoded = topics.get(topic) or topics.setdefault(topic, _utf8(topic))
                if qos:
                    mid = mid % 65535 + 1
                    parts += [bytes([header]), _length(len(encoded) + 2 + len(payload)), encoded,
                              struct.pack("!H", mid), payload]
                else:
                    parts += [bytes([header]), _length(len(encoded) + len(payload)), encoded, payload]
            end = min(start + chunk, len(messages))
            while qos and end - acks.count > window:
                acks.read(1.0)
            blob = memoryview(b"".join(parts))
            while blob:
                try:
                    sent = sock.send(blob)
                    blob = blob[sent:]
                except BlockingIOError:
                    select.select([sock], [sock], [], 1.0)
                    if qos:
                        acks.read(0)
            if on_chunk is not None:
                on_chunk(end, time.time())
            if qos:
                acks.read(0)
        deadline = time.monotonic() + timeout
        while qos and acks.count < len(messages):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(messages) - acks.count} messages not acknowledged by {address}")
            acks.read(0.5)
        sock.setblocking(True)
        sock.sendall(b"\xe0\x00")  # DISCONNECT
    finally:
        sock.close()
    return len(messages)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lakehouse.simulators.mqtt_publisher OUT_DIR [--url URL] [--rate N]``."""
    from lakehouse.settings import get_settings

    parser = argparse.ArgumentParser(description="Publish generated MQTT streams")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--url", default=None, help="broker URL (default: IOC_MQTT_URL)")
    parser.add_argument("--rate", type=float, default=None, help="messages per second")
    parser.add_argument("--dataset", action="append")
    args = parser.parse_args(argv)
    url = args.url or get_settings().mqtt_url
    if not url:
        parser.error("no broker: pass --url or set IOC_MQTT_URL (e.g. mqtt://127.0.0.1:1883)")
    count = publish_generated(args.out_dir, url, rate=args.rate, datasets=args.dataset)
    print(f"published {count} messages to {url}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
