"""Many paho clients driven from one thread by one selector, through paho's external-loop API
(``on_socket_open``/``close``/``register_write``/``unregister_write``, ``loop_read``,
``loop_write``, ``loop_misc``). A thread per client (``loop_start``) does not scale to a fleet
of thousands of tablets in one process."""

from __future__ import annotations

import selectors
import socket
import ssl
from typing import Any

import paho.mqtt.client as mqtt

Sock = socket.socket | Any


class SelectorLoop:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._clients: list[mqtt.Client] = []

    def attach(self, client: mqtt.Client) -> None:
        """Let this loop drive ``client``; call before ``connect``."""
        client.on_socket_open = self._on_open
        client.on_socket_close = self._on_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        self._clients.append(client)

    def _on_open(self, client: mqtt.Client, userdata: Any, sock: Sock) -> None:
        self._selector.register(sock, selectors.EVENT_READ, client)

    def _on_close(self, client: mqtt.Client, userdata: Any, sock: Sock) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: Sock) -> None:
        self._watch(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def _on_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Sock) -> None:
        self._watch(sock, selectors.EVENT_READ, client)

    def _watch(self, sock: Sock, events: int, client: mqtt.Client) -> None:
        # paho also calls these while it tears a socket down, possibly already closed (EBADF).
        try:
            self._selector.modify(sock, events, client)
        except (KeyError, ValueError, OSError):
            pass

    def poll(self, timeout: float) -> int:
        """Serve ready sockets once, waiting at most ``timeout`` seconds; the number of events."""
        if not self._selector.get_map():
            return 0
        events = self._selector.select(timeout)
        for key, mask in events:
            client: mqtt.Client = key.data
            if mask & selectors.EVENT_READ:
                client.loop_read()
                # TLS may hold decrypted bytes that the selector cannot see.
                sock = client.socket()
                while isinstance(sock, ssl.SSLSocket) and sock.pending():
                    client.loop_read()
                    sock = client.socket()
            if mask & selectors.EVENT_WRITE and client.socket() is not None:
                client.loop_write()
        return len(events)

    def misc(self) -> None:
        """Keep-alives and timeouts; call about once a second."""
        for client in self._clients:
            client.loop_misc()

    def close(self) -> None:
        # A client collected later still closes its socket and calls these hooks; they must not
        # reach a closed selector.
        for client in self._clients:
            client.on_socket_open = None
            client.on_socket_close = None
            client.on_socket_register_write = None
            client.on_socket_unregister_write = None
        self._selector.close()
