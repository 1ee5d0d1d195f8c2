"""The test harness lets HA-free (core-style) tests use real sockets, threads and loops.

The HA test plugin acts on every test (see tests/conftest.py); these checks keep the promises
tests/core relies on: TCP on 127.0.0.1 from tests and from module-scoped fixtures, threads,
thread -> loop hand-off with ``call_soon_threadsafe``, asyncio servers and subprocesses.
"""

import asyncio
from collections.abc import Generator
import socket
import subprocess
import sys
import threading

import pytest


def _echo_once(server: socket.socket) -> None:
    conn, _ = server.accept()
    with conn:
        conn.sendall(conn.recv(16).upper())


@pytest.fixture(scope="module")
def module_listener() -> Generator[socket.socket]:
    """A socket opened by a module-scoped fixture (set up before per-test hooks could help)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server


def test_sync_tcp_and_thread(module_listener: socket.socket) -> None:
    port = module_listener.getsockname()[1]
    thread = threading.Thread(target=_echo_once, args=(module_listener,), name="echo")
    thread.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"ping")
        assert client.recv(16) == b"PING"
    thread.join(5)
    assert not thread.is_alive()


def test_sync_subprocess() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "print('ok')"], capture_output=True, check=True, timeout=30
    )
    assert out.stdout.strip() == b"ok"


async def test_async_thread_hands_results_to_loop() -> None:
    loop = asyncio.get_running_loop()
    results: asyncio.Queue[int] = asyncio.Queue()

    def work() -> None:
        for i in range(3):
            loop.call_soon_threadsafe(results.put_nowait, i)

    thread = threading.Thread(target=work, name="worker")
    thread.start()
    got = [await asyncio.wait_for(results.get(), 5) for _ in range(3)]
    thread.join(5)
    assert got == [0, 1, 2]


async def test_async_server_and_blocking_client_thread() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    def client() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"hello\n")
            return sock.recv(16)

    async with server:
        assert await asyncio.to_thread(client) == b"HELLO\n"


async def test_async_subprocess() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "print('ok')", stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert stdout.strip() == b"ok"
    assert proc.returncode == 0
