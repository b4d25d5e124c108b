"""The channels: e-mail over SMTP, SMS through an HTTP SMS-gateway adapter, and Web Push with
VAPID (RFC 8030, 8291, 8292). Each sends one :class:`Message` and says how it went by raising
:class:`TransientFailure` (retry later) or :class:`PermanentFailure` (retrying cannot help).
Every channel carries the message's idempotency key, so that a receiver can drop a copy sent
again after a worker died between the provider's acceptance and our commit."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from core.settings import Settings
from notifications.schemas import Message


class TransientFailure(Exception):
    """The receiver could not take the message now (network, 4xx throttling, 5xx)."""


class PermanentFailure(Exception):
    """The receiver refused the message for good (bad address, gone subscription)."""


class Sender(Protocol):
    def __call__(self, message: Message) -> None: ...


# --- e-mail -------------------------------------------------------------------------------------

def message_id(idempotency_key: str) -> str:
    """A Message-ID that is the same for every attempt of one step to one person."""
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@kol-notifications>"


def send_email(settings: Settings, message: Message) -> None:
    if not settings.smtp_host:
        raise TransientFailure("no SMTP server configured (KOL_SMTP_HOST)")
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = message.address
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id(message.idempotency_key)
    mail["X-KOL-Idempotency-Key"] = message.idempotency_key
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                          timeout=settings.notify_send_timeout_seconds) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(500 <= c < 600 for c in codes):
            raise PermanentFailure(f"recipient refused: {codes}") from exc
        raise TransientFailure(f"recipient deferred: {codes}") from exc
    except smtplib.SMTPResponseException as exc:
        failure = PermanentFailure if 500 <= exc.smtp_code < 600 else TransientFailure
        raise failure(f"SMTP {exc.smtp_code} {exc.smtp_error!r}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientFailure(f"SMTP: {exc!r}") from exc


# --- SMS ----------------------------------------------------------------------------------------

def sms_request(settings: Settings, message: Message) -> urllib.request.Request:
    """The adapter's request (docs/notifications.md): a JSON POST with the idempotency key in a
    header and in the body."""
    body = json.dumps({"to": message.address, "from": settings.sms_sender,
                       "text": message.body, "reference": message.idempotency_key}).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key}
    if token := settings.sms_gateway_token.get_secret_value():
        headers["Authorization"] = f"Bearer {token}"
    return urllib.request.Request(settings.sms_gateway_url, data=body, headers=headers,
                                  method="POST")


def send_sms(settings: Settings, message: Message) -> None:
    if not settings.sms_gateway_url:
        raise TransientFailure("no SMS gateway configured (KOL_SMS_GATEWAY_URL)")
    try:
        with urllib.request.urlopen(sms_request(settings, message),
                                    timeout=settings.notify_send_timeout_seconds) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        # 409: the gateway has this reference already, so the message went out.
        if exc.code == 409:
            return
        failure = TransientFailure if exc.code in (408, 425, 429) or exc.code >= 500 \
            else PermanentFailure
        raise failure(f"SMS gateway answered {exc.code}") from exc
    except OSError as exc:  # URLError and timeouts are OSErrors
        raise TransientFailure(f"SMS gateway: {exc!r}") from exc


# --- Web Push -----------------------------------------------------------------------------------

def vapid_key_path(settings: Settings) -> Path:
    return settings.vapid_private_key_file or settings.stack_dir / "vapid_private.pem"


def load_vapid(settings: Settings) -> Vapid:
    """The VAPID key, made on first use. Several processes may race to make it: each writes its
    own file and links it into place, and whoever loses reads the winner's."""
    path = vapid_key_path(settings)
    if not path.exists():
        fresh = Vapid()
        fresh.generate_keys()
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(fresh.private_pem())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return Vapid.from_file(str(path))


def vapid_public_key(settings: Settings) -> str:
    """The application server key the browser subscribes with (base64url, uncompressed)."""
    raw = load_vapid(settings).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def push_topic(idempotency_key: str) -> str:
    """RFC 8030 Topic (at most 32 base64url characters): a push service keeps one undelivered
    message per topic, so a copy sent again replaces the first instead of adding to it."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:32]


def push_payload(message: Message) -> str:
    return json.dumps({"title": message.subject, "body": message.body, "url": message.url,
                       "tag": push_topic(message.idempotency_key)}, ensure_ascii=False)


def send_push(settings: Settings, message: Message) -> None:
    if not (message.push_p256dh and message.push_auth):
        raise PermanentFailure("the push subscription is gone")
    subscription = {"endpoint": message.address,
                    "keys": {"p256dh": message.push_p256dh, "auth": message.push_auth}}
    try:
        webpush(subscription, data=push_payload(message), vapid_private_key=load_vapid(settings),
                vapid_claims={"sub": settings.vapid_subject}, ttl=24 * 3600,
                timeout=settings.notify_send_timeout_seconds,
                headers={"Topic": push_topic(message.idempotency_key), "Urgency": "high"})
    except WebPushException as exc:
        code = exc.status_code
        if code in (404, 410):
            raise PermanentFailure(f"push subscription gone ({code})") from exc
        if code is not None and 400 <= code < 500 and code not in (408, 429):
            raise PermanentFailure(f"push service answered {code}") from exc
        raise TransientFailure(f"push service: {code or exc.message}") from exc
    except OSError as exc:
        raise TransientFailure(f"push service: {exc!r}") from exc


def send(settings: Settings, message: Message) -> None:
    {"email": send_email, "sms": send_sms, "push": send_push}[message.channel](settings, message)
