#!/usr/bin/env python3
"""delayproxy.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS - a TCP
proxy that holds every chunk from the client DELAY_MS before passing it
on (answers pass at once): DELAY_MS of added round-trip time, where
`tc qdisc ... netem` is not available (bench/netcache).  Bytes keep
their order; prints "ready" once listening."""
import asyncio
import sys
import time

lport, thost, tport, delay = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) / 1000


async def held(reader, writer, d):
    q = asyncio.Queue()

    async def send():
        while True:
            due, data = await q.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
        writer.close()

    task = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            q.put_nowait((time.monotonic() + d, data))
    except ConnectionError:
        pass
    q.put_nowait((0, None))
    await task


async def handle(cr, cw):
    try:
        sr, sw = await asyncio.open_connection(thost, tport)
    except OSError:
        cw.close()
        return
    await asyncio.gather(held(cr, sw, delay), held(sr, cw, 0), return_exceptions=True)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", lport)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
