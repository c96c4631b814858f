"""The listening socket tickwork's server binds (``tickwork run``, ``tickwork api``)."""

from __future__ import annotations

import asyncio
import socket

from tickwork.web.server import bind


def test_accepted_connections_send_at_once_without_nagle() -> None:
    # A response written in two parts (headers, body) on a kept-alive connection would
    # otherwise wait for the client's delayed ACK: 40 ms per request.
    sock = bind("127.0.0.1", 0)
    nodelay: list[int] = []

    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted = writer.get_extra_info("socket")
            nodelay.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=sock)
        async with server:
            reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            await reader.read()  # the handler closed it
            writer.close()

    asyncio.run(asyncio.wait_for(main(), 10))
    assert sock.proto == socket.IPPROTO_TCP
    assert nodelay == [1]
