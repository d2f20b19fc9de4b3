import asyncio
import json
import sys

from harmony.cli.app import main_for

from .cluster import down, status, up

command = sys.argv[1] if len(sys.argv) > 1 else "plan"
if command == "up":
    print(json.dumps(asyncio.run(up())))
elif command == "down":
    asyncio.run(down())
elif command == "status":
    print(json.dumps(status(), indent=2))
else:
    main_for("examples.pg_failover_deploy")
