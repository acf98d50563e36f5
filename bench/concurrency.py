"""Several users at once on the browser chat's API, with and without an upload being ingested.

    python bench/concurrency.py [--users 8] [--questions 10]

The app (ui.build_app over the sample articles, embedded store) is served on a free loopback
port; each "user" is a thread with its own gradio_client asking the gold questions through
`/ask`, one after another. Latency is what the user waits for a whole answer. Rows:
- one user alone (the baseline, same run);
- N users at once;
- N users at once while 200 articles are ingested in the app's process (what an upload does).
Target (issue 11): 8 users, p95 under 1 s on the sample articles. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.api import Assistant
from qa.settings import Settings
from tests.corpus import write_stories


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def run_users(url: str, questions: list[str], users: int, per_user: int) -> list[float]:
    from gradio_client import Client

    times: list[float] = []
    lock = threading.Lock()

    def user(k: int) -> None:
        c = Client(url, verbose=False)
        for i in range(per_user):
            q = questions[(k + i) % len(questions)]
            t = time.perf_counter()
            c.predict(q, [], api_name="/ask")
            with lock:
                times.append(time.perf_counter() - t)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--questions", type=int, default=10, help="questions per user")
    args = ap.parse_args()
    import ui
    from tests.conftest import free_port

    questions = [json.loads(line)["question"] for line in
                 (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        bot = Assistant.open(Settings(store_path=str(Path(tmp) / "store")))
        bot.ingest([ROOT / "data" / "articles"])
        app = ui.build_app(bot, bot.settings)
        port = free_port()
        ui.launch(app, bot.settings, port=port, prevent_thread_lock=True, quiet=True)
        url = f"http://127.0.0.1:{port}/"
        run_users(url, questions, 1, 3)  # warm up
        rows = [("1 user (baseline)", run_users(url, questions, 1, args.questions))]
        rows.append((f"{args.users} users at once",
                     run_users(url, questions, args.users, args.questions)))
        corpus = Path(tmp) / "upload"
        write_stories(corpus, range(200))
        done = threading.Event()

        def ingest() -> None:
            ctl = ui.ChatController(bot, bot.settings)
            with ctl.write_lock:
                bot.ingest([corpus])
            done.set()

        t = threading.Thread(target=ingest)
        t.start()
        during = run_users(url, questions, args.users, args.questions)
        finished_before = not done.is_set()
        t.join()
        rows.append((f"{args.users} users while 200 articles are ingested", during))
        app.close()
        bot.close()
    base = statistics.median(rows[0][1])
    print(f"# bench/concurrency.py, {time.strftime('%d %b %Y')}, {platform.machine()}, "
          f"{os.cpu_count()} cores, sample articles, extractive answers through /ask")
    print("| run | answers | p50 ms | p95 ms | p50 / baseline |")
    print("|---|---:|---:|---:|---:|")
    for name, xs in rows:
        print(f"| {name} | {len(xs)} | {statistics.median(xs) * 1000:.0f} | "
              f"{pct(xs, 0.95) * 1000:.0f} | {statistics.median(xs) / base:.1f}x |")
    print(f"\nThe ingestion was still running when the last answer came: {finished_before}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
