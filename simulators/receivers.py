"""Local stand-ins for the providers outside the platform, for the demo (``make run``), the tests
and the notification benchmark: an SMTP server (aiosmtpd), an HTTP SMS gateway that speaks the
adapter's request shape (docs/notifications.md), and a Web Push service that checks what a real
one checks (the VAPID JWT, RFC 8292) and decrypts the message as the browser would (aes128gcm,
RFC 8188 / 8291).

Each records what it received with the wall-clock time of arrival and de-duplicates on the
message's idempotency key as a provider does: ``received`` holds every arrival, ``unique`` one per
key.

    python -m simulators.receivers --smtp-port 2525 --sms-port 8026   # prints what arrives
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import jwt
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.signals import stop_on_signals, wait_for_stop


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    channel: str
    key: str
    to: str
    subject: str
    body: str
    at: float
    """time.time() at arrival."""
    headers: dict[str, str] = field(default_factory=dict)


class _Log:
    def __init__(self, echo: Callable[[Received], None] | None) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._echo = echo

    def add(self, item: Received) -> bool:
        """Record an arrival; False if its key was seen before (a duplicate)."""
        with self._cond:
            duplicate = any(r.key == item.key for r in self.received)
            self.received.append(item)
            self._cond.notify_all()
        if self._echo is not None:
            self._echo(item)
        return not duplicate

    @property
    def unique(self) -> list[Received]:
        with self._lock:
            seen: dict[str, Received] = {}
            for r in self.received:
                seen.setdefault(r.key, r)
            return list(seen.values())

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Wait until ``count`` distinct messages arrived (or the timeout); the distinct ones."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len({r.key for r in self.received}) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        return self.unique


# --- SMTP ---------------------------------------------------------------------------------------

class SmtpSink(_Log):
    """An SMTP server on 127.0.0.1 that keeps every message."""

    def __init__(self, port: int = 0, *, echo: Callable[[Received], None] | None = None) -> None:
        super().__init__(echo)
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                mail = message_from_bytes(envelope.original_content or envelope.content,
                                          policy=policy.default)
                body = mail.get_body(("plain",))
                sink.add(Received(
                    channel="email", key=str(mail["Message-ID"]), to=",".join(envelope.rcpt_tos),
                    subject=str(mail["Subject"]), at=time.time(),
                    body=body.get_content().strip() if body is not None else "",
                    headers={k: str(v) for k, v in mail.items()}))
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=port or _free_port())
        self.port = self._controller.port

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


# --- HTTP receivers -----------------------------------------------------------------------------

class _HttpSink(_Log):
    def __init__(self, port: int, echo: Callable[[Received], None] | None) -> None:
        super().__init__(echo)
        self.fail_next = 0
        """Answer this many next requests with 503 (a provider's outage)."""
        self.stall_seconds = 0.0
        """Hold each request this long before taking it (a slow provider; a worker killed
        meanwhile never sees the answer)."""
        self.requests = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with sink._lock:
                    sink.requests += 1
                    failing = sink.fail_next > 0
                    sink.fail_next -= failing
                if sink.stall_seconds:
                    time.sleep(sink.stall_seconds)
                if failing:
                    self._answer(503, b'{"error": "unavailable"}')
                    return
                # Header names in one spelling (HTTP header names are case-insensitive).
                headers = {k.title(): v for k, v in self.headers.items()}
                status, answer = sink.take(self.path, headers, body)
                self._answer(status, answer)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port or _free_port()), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def take(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        raise NotImplementedError

    def start(self) -> Any:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class SmsGatewaySink(_HttpSink):
    """An HTTP SMS gateway: ``POST /`` with the adapter's JSON; 202 for a new reference, 409 for
    one it has (the message is not sent twice)."""

    def __init__(self, port: int = 0, *, token: str = "",
                 echo: Callable[[Received], None] | None = None) -> None:
        super().__init__(port, echo)
        self.token = token

    def take(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.token and headers.get("Authorization") != f"Bearer {self.token}":
            return 401, b'{"error": "unauthorised"}'
        try:
            data = json.loads(body)
            to, text, reference = data["to"], data["text"], data["reference"]
        except (ValueError, KeyError):
            return 400, b'{"error": "bad request"}'
        if headers.get("Idempotency-Key") != reference:
            return 400, b'{"error": "Idempotency-Key and reference differ"}'
        new = self.add(Received(channel="sms", key=reference, to=to, subject="", body=text,
                                at=time.time(), headers=headers))
        return (202, b'{"status": "accepted"}') if new else (409, b'{"status": "duplicate"}')


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowserKeys:
    """What a browser keeps for a push subscription: its ECDH key pair and auth secret."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def generate(cls) -> BrowserKeys:
        return cls(private_key=ec.generate_private_key(ec.SECP256R1()), auth=os.urandom(16))

    @property
    def p256dh(self) -> str:
        return _b64(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    @property
    def auth_b64(self) -> str:
        return _b64(self.auth)


class PushServiceSink(_HttpSink):
    """A Web Push service: ``POST /push/<id>`` for a subscription registered with
    :meth:`subscribe`. It refuses (401/403) a request whose VAPID JWT does not verify against the
    ``k`` key, is not for this origin, is expired or lasts more than 24 h, or whose key is not the
    application server key the subscription was made with; it decrypts the aes128gcm body with the
    browser's keys (400 if that fails) and keeps the plaintext."""

    def __init__(self, port: int = 0, *, echo: Callable[[Received], None] | None = None) -> None:
        super().__init__(port, echo)
        self._subs: dict[str, tuple[BrowserKeys, str]] = {}
        self.refused: list[str] = []

    def subscribe(self, name: str, keys: BrowserKeys, application_server_key: str) -> str:
        """Register a subscription; its endpoint."""
        self._subs[f"/push/{name}"] = (keys, application_server_key)
        return f"{self.url}/push/{name}"

    def take(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if path not in self._subs:
            return 404, b'{"error": "no such subscription"}'
        keys, server_key = self._subs[path]
        why = _vapid_problem(headers.get("Authorization", ""), audience=self.url,
                             server_key=server_key)
        if why is not None:
            self.refused.append(why)
            return 403 if "key" in why else 401, json.dumps({"error": why}).encode()
        if headers.get("Content-Encoding") != "aes128gcm":
            self.refused.append("not aes128gcm")
            return 400, b'{"error": "Content-Encoding must be aes128gcm"}'
        try:
            plain = decrypt_aes128gcm(body, keys)
        except Exception as exc:  # any malformed body is the sender's error
            self.refused.append(f"decryption failed: {exc!r}")
            return 400, b'{"error": "cannot decrypt"}'
        payload = json.loads(plain)
        self.add(Received(channel="push", key=headers.get("Topic", ""), to=path,
                          subject=payload.get("title", ""), body=payload.get("body", ""),
                          at=time.time(), headers=headers))
        return 201, b"{}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _vapid_problem(authorization: str, *, audience: str, server_key: str) -> str | None:
    """Why an RFC 8292 ``vapid t=…, k=…`` header is not acceptable, or None."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        return "no vapid authorization"
    fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
    token, key = fields.get("t", ""), fields.get("k", "")
    if key != server_key:
        return "key is not the subscription's application server key"
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(key))
    try:
        claims = jwt.decode(token, public, algorithms=["ES256"], audience=audience,
                            options={"require": ["exp", "aud", "sub"]})
    except jwt.PyJWTError as exc:
        return f"jwt: {exc}"
    if claims["exp"] > time.time() + 24 * 3600:
        return "jwt lasts more than 24 hours"
    if not str(claims["sub"]).startswith(("mailto:", "https:")):
        return "jwt sub is not a contact"
    return None


def decrypt_aes128gcm(body: bytes, keys: BrowserKeys) -> bytes:
    """RFC 8291 message decryption as a user agent does it (single record)."""
    salt, rs, idlen = body[:16], struct.unpack("!I", body[16:20])[0], body[20]
    server_public_raw = body[21:21 + idlen]
    ciphertext = body[21 + idlen:]
    if rs < 18 or len(ciphertext) > rs:
        raise ValueError("one record expected")
    server_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                                 server_public_raw)
    secret = keys.private_key.exchange(ec.ECDH(), server_public)
    ua_public = _unb64(keys.p256dh)
    ikm = HKDF(hashes.SHA256(), 32, salt=keys.auth,
               info=b"WebPush: info\x00" + ua_public + server_public_raw).derive(secret)
    cek = HKDF(hashes.SHA256(), 16, salt=salt,
               info=b"Content-Encoding: aes128gcm\x00").derive(ikm)
    nonce = HKDF(hashes.SHA256(), 12, salt=salt, info=b"Content-Encoding: nonce\x00").derive(ikm)
    padded = AESGCM(cek).decrypt(nonce, ciphertext, None).rstrip(b"\x00")
    if not padded.endswith(b"\x02"):
        raise ValueError("no last-record delimiter")
    return padded[:-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--sms-port", type=int, required=True)
    args = parser.parse_args()

    def show(r: Received) -> None:
        print(f"[{r.channel} → {r.to}] {r.subject + ': ' if r.subject else ''}{r.body}",
              flush=True)

    smtp = SmtpSink(args.smtp_port, echo=show).start()
    sms = SmsGatewaySink(args.sms_port, echo=show).start()
    print(f"receivers: SMTP on 127.0.0.1:{smtp.port}, SMS gateway on {sms.url}", flush=True)
    wait_for_stop(stop_on_signals())
    smtp.stop()
    sms.stop()


if __name__ == "__main__":
    main()
