"""shared/WORKLOADS.md on Python asyncio (and uvloop), one workload per process.

    /usr/bin/python3 bench/peers/asyncio/workloads.py <asyncio|uvloop> <workload> [scale]
    /usr/bin/python3 bench/peers/asyncio/workloads.py <asyncio|uvloop> http_server <port>
    /usr/bin/python3 bench/peers/asyncio/workloads.py <asyncio|uvloop> echo_server <port>

Prints `RESULT <runtime> <workload> <metric>=<value> ...` like bench/workloads.cc. asyncio has
one loop on one thread: there is no thread count, and ping_pong_xthread cannot be expressed.
"""
import asyncio
import math
import random
import resource
import sys
import threading
import time

SCALE = 1.0


def scaled(n):
    return max(1, int(n * SCALE))


def fib_n():  # bench/workloads.cc: fib(27) at scale 1, about scale x the calls otherwise
    return max(2, 27 + round(math.log(SCALE) / math.log(1.618)))


def skynet_leaves():  # a power of 10 nearest to 1,000,000 x scale
    return 10 ** max(1, 6 + round(math.log10(SCALE)))


def fib_value(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Countdown:
    """Completes `done` once count_down() has been called n times (loop thread only)."""

    def __init__(self, n):
        self.remaining = n
        self.done = asyncio.get_running_loop().create_future()

    def count_down(self):
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set_result(None)


async def bump(c):
    c.count_down()


async def spawn_many():
    n = scaled(1_000_000)
    c = Countdown(n)
    t0 = time.perf_counter()
    for _ in range(n):
        asyncio.create_task(bump(c))
    await c.done
    return f"tasks_per_s={n / (time.perf_counter() - t0):.0f}"


async def spawn_many_remote():
    # Spawned from a plain thread: call_soon_threadsafe(create_task) per task (what
    # run_coroutine_threadsafe does, without its concurrent.futures.Future per call).
    n = scaled(1_000_000)
    loop = asyncio.get_running_loop()
    c = Countdown(n)

    def spawner():
        for _ in range(n):
            loop.call_soon_threadsafe(loop.create_task, bump(c))

    t0 = time.perf_counter()
    th = threading.Thread(target=spawner)
    th.start()
    await c.done
    secs = time.perf_counter() - t0
    th.join()
    return f"tasks_per_s={n / secs:.0f}"


async def yielder(yields, c):
    for _ in range(yields):
        await asyncio.sleep(0)
    c.count_down()


async def yield_many():
    tasks, yields = scaled(200), 1000
    c = Countdown(tasks)
    t0 = time.perf_counter()
    for _ in range(tasks):
        asyncio.create_task(yielder(yields, c))
    await c.done
    return f"yields_per_s={tasks * yields / (time.perf_counter() - t0):.0f}"


async def ping_pong_local():
    rounds = scaled(100_000)
    loop = asyncio.get_running_loop()
    box = {"a": loop.create_future(), "b": loop.create_future()}

    async def player(me, peer, serve):
        if serve:
            box[peer].set_result(0)
        for i in range(rounds):
            v = await box[me]
            box[me] = loop.create_future()
            if not serve or i + 1 < rounds:
                box[peer].set_result(v + 1)

    t0 = time.perf_counter()
    pong = asyncio.create_task(player("b", "a", False))
    await asyncio.create_task(player("a", "b", True))
    secs = time.perf_counter() - t0
    await pong
    return f"ns_per_rtt={secs * 1e9 / rounds:.1f}"


async def chain(left, c):
    if left == 0:
        c.count_down()
    else:
        asyncio.create_task(chain(left - 1, c))


async def chained_spawn():
    hops = scaled(1_000_000)
    c = Countdown(1)
    t0 = time.perf_counter()
    asyncio.create_task(chain(hops, c))
    await c.done
    return f"ns_per_hop={(time.perf_counter() - t0) * 1e9 / hops:.1f}"


async def fib(n):
    if n < 2:
        return n
    a = asyncio.create_task(fib(n - 1))
    b = asyncio.create_task(fib(n - 2))
    return await a + await b


async def fib_fork_join():
    n = fib_n()
    t0 = time.perf_counter()
    v = await asyncio.create_task(fib(n))
    secs = time.perf_counter() - t0
    assert v == fib_value(n), v
    return f"seconds={secs:.4f} tasks_per_s={(2 * fib_value(n + 1) - 2) / secs:.0f}"


async def sleeper(d, c):
    await asyncio.sleep(d)
    c.count_down()


async def timers():
    n = scaled(100_000)
    rng = random.Random(42)
    c = Countdown(n)
    cpu0 = cpu_s()
    t0 = time.perf_counter()
    for _ in range(n):
        asyncio.create_task(sleeper(rng.randint(0, 100_000) * 1e-6, c))
    await c.done
    secs = time.perf_counter() - t0
    return f"overhead_ms={(secs - 0.100) * 1e3:.2f} cpu_s={cpu_s() - cpu0:.3f}"


async def timer_cancel():
    n = scaled(1_000_000)
    loop = asyncio.get_running_loop()

    def nothing():
        pass

    t0 = time.perf_counter()
    handles = [loop.call_later(10, nothing) for _ in range(n)]
    for h in handles:
        h.cancel()
    return f"ops_per_s={n / (time.perf_counter() - t0):.0f}"


def plus_one(i):
    return i + 1


async def blocking_pool():
    n = scaled(100_000)
    t0 = time.perf_counter()
    calls = [asyncio.to_thread(plus_one, i) for i in range(n)]
    total = sum(await asyncio.gather(*calls))
    secs = time.perf_counter() - t0
    assert total == n * (n + 1) // 2
    return f"calls_per_s={n / secs:.0f}"


def sleep_1ms(i):
    time.sleep(0.001)
    return i


async def blocking_sleep():
    n = scaled(2000)
    t0 = time.perf_counter()
    total = sum(await asyncio.gather(*[asyncio.to_thread(sleep_1ms, i) for i in range(n)]))
    secs = time.perf_counter() - t0
    assert total == n * (n - 1) // 2
    return f"seconds={secs:.4f}"


async def idle_tasks_memory():
    n = scaled(100_000)
    c = Countdown(n)
    rss0 = rss_kb()
    for _ in range(n):
        asyncio.create_task(sleeper(1.0, c))
    await asyncio.sleep(0.2)  # every task has started and sleeps
    rss1 = rss_kb()
    await c.done
    return f"bytes_per_task={(rss1 - rss0) * 1024 / n:.0f}"


async def skynet_node(num, size, div):
    if size == 1:
        return num
    sub = size // div
    children = [asyncio.create_task(skynet_node(num + i * sub, sub, div)) for i in range(div)]
    total = 0
    for ch in children:
        total += await ch
    return total


async def skynet():
    leaves = skynet_leaves()
    t0 = time.perf_counter()
    v = await asyncio.create_task(skynet_node(0, leaves, 10))
    secs = time.perf_counter() - t0
    assert v == leaves * (leaves - 1) // 2, v
    return f"seconds={secs:.4f}"


RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
            b"Server: asyncio\r\n\r\nHello, World!")


class HelloProtocol(asyncio.Protocol):
    """W8: answers every complete request in the buffer (pipelining-safe), keeps alive."""

    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        n = self.buf.count(b"\r\n\r\n")
        if n:
            self.buf = self.buf[self.buf.rfind(b"\r\n\r\n") + 4:]
            self.transport.write(RESPONSE * n)


class EchoProtocol(asyncio.Protocol):
    """Echo (issue 6's echo benchmark, driven by examples/echo_client): sends back every byte."""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def serve(protocol, port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


WORKLOADS = {f.__name__: f for f in [
    spawn_many, spawn_many_remote, yield_many, ping_pong_local, chained_spawn, fib_fork_join,
    timers, timer_cancel, blocking_pool, blocking_sleep, idle_tasks_memory, skynet]}


def main():
    global SCALE
    if len(sys.argv) < 3 or sys.argv[1] not in ("asyncio", "uvloop"):
        print(__doc__, file=sys.stderr)
        return 2
    runtime, workload = sys.argv[1], sys.argv[2]
    if runtime == "uvloop":
        import uvloop
        uvloop.install()
    if workload in ("http_server", "echo_server"):
        protocol = HelloProtocol if workload == "http_server" else EchoProtocol
        try:
            asyncio.run(serve(protocol, int(sys.argv[3])))
        except KeyboardInterrupt:
            pass
        return 0
    if len(sys.argv) > 3:
        SCALE = float(sys.argv[3])
    if workload == "ping_pong_xthread":
        print(f"RESULT {runtime} {workload} unsupported=1")  # one loop
        return 0
    if workload not in WORKLOADS:
        print(f"unknown workload: {workload}", file=sys.stderr)
        return 2
    print(f"RESULT {runtime} {workload} {asyncio.run(WORKLOADS[workload]())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
