import asyncio
import json
import signal
import sys

from harmony.cli.app import main_for

from .cluster import down, status, up


async def foreground() -> None:
    """``up`` and stay: Ctrl-C or SIGTERM stops the agents (and so PostgreSQL) and NATS."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        print(json.dumps(await up()), flush=True)
        await stop.wait()
    finally:
        await down()


command = sys.argv[1] if len(sys.argv) > 1 else "plan"
if command == "up":
    asyncio.run(foreground())
elif command == "down":
    asyncio.run(down())
elif command == "status":
    print(json.dumps(status(), indent=2))
else:
    main_for("examples.pg_failover_deploy")
