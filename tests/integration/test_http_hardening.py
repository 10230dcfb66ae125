"""Oversized request bodies are refused with 413 before GraphQL parses them, and every answer carries the
security headers, through a real server."""

import asyncio
import json
from urllib.parse import urlsplit

import httpx

from tests.support.graphql import GraphQLClient

LIMIT = 65_536  # the default, PIXELPET_LIMITS__MAX_BODY_BYTES


async def test_a_declared_oversized_body_is_refused_before_it_is_sent(base_url: str) -> None:
    address = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: pixelpet\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000000\r\n\r\n" + b"{" * 1024
    )
    await writer.drain()
    # Answered while 4,998,976 of the declared bytes were never sent.
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in head.lower()
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    body = json.loads(await reader.readexactly(length))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert str(LIMIT) in body["errors"][0]["message"]
    writer.close()


async def test_a_streamed_body_is_refused_at_the_first_bytes_past_the_limit(base_url: str) -> None:
    address = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: pixelpet\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    sent = 0
    chunk = b"400\r\n" + b" " * 1024 + b"\r\n"  # 1 KiB chunks, no declared length
    try:
        while not answer.done() and sent < 5_000 * 1024:  # 5 MB if it were all read
            writer.write(chunk)
            await writer.drain()
            sent += 1024
            await asyncio.sleep(0)
    except ConnectionError:
        pass  # the server closed after answering: expected once it has refused
    head = await asyncio.wait_for(answer, 30)
    assert head.startswith(b"HTTP/1.1 413 ")
    assert sent < 5_000 * 1024, "the server read on past the limit"
    writer.close()


async def test_a_body_at_the_limit_is_served(client: GraphQLClient) -> None:
    padding = " " * (LIMIT - 200)
    response = await client.execute("{ pets(first: 1) { edges { cursor } } }" + padding)
    assert response.status == 200
    assert response.data == {"pets": {"edges": []}}


async def test_every_http_answer_carries_the_security_headers(base_url: str, client: GraphQLClient) -> None:
    answered = await client.execute("{ pets(first: 1) { edges { cursor } } }")
    assert answered.status == 200
    async with httpx.AsyncClient(base_url=base_url) as http:
        for response in (
            await http.post("/graphql", json={"query": "{ pets { edges { cursor } } }"}),  # no token
            await http.get("/readyz"),
            await http.get("/nowhere"),
            await http.post(
                "/graphql", content=b"x" * (LIMIT + 1), headers={"content-type": "application/json"}
            ),
        ):
            assert response.headers["x-content-type-options"] == "nosniff", response.url
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["cache-control"] == "no-store"
