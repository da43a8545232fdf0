"""bench/_app.py, which bench/idle.py and bench/soak.py measure the app through: the real
app (its runtime, loop and simulated sound card) signs in to a real server process and
rejoins what the benchmarks join, then closes cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import ServerProcess, write_config  # noqa: E402

GROUPS = ["bench1", "bench2"]
APP = """
import asyncio, json, sys
sys.path.insert(0, "bench")
from _app import run_app

async def drive(runtime):
    main = asyncio.ensure_future(runtime.run())
    await asyncio.wait_for(runtime.ready.wait(), 15)
    for _ in range(300):
        if len(runtime.client.model.joined_ids) == 2:
            break
        await asyncio.sleep(0.05)
    joined = sorted(str(i) for i in runtime.client.model.joined_ids)
    runtime.quit()
    await asyncio.wait_for(main, 15)
    return joined

print(json.dumps(run_app(int(sys.argv[1]), ["bench1", "bench2"], drive, "bench-app-test-")))
"""


def test_the_benchmarks_app_signs_in_rejoins_and_closes() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(write_config(Path(tmp) / "bench.toml", GROUPS))
        try:
            done = subprocess.run([sys.executable, "-c", APP, str(server.port)], cwd=ROOT,
                                  capture_output=True, text=True, timeout=90)
        finally:
            server.close()
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["group_bench1", "group_bench2"]
