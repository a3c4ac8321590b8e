"""Make JSON logs in the shapes Go's and Node's logging libraries write.

    python tests/samples/raw/make_json_logs.py     # (re)writes zap.jsonl, logrus.jsonl, pino.jsonl, json_logs_truth.json

zap's production encoder ('level', 'ts' in epoch seconds, 'caller', 'msg', fields, 'stacktrace'
from ERROR up), logrus's JSONFormatter (keys in order, 'time' in RFC 3339) and pino's (numeric
levels, 'time' in epoch milliseconds, the 'err' serialiser: type, message, stack), the last written
by Node itself with errors really thrown (node/pino_like.js; kept as last written when Node is
missing). Seeded and with fixed times; the truth is counted here from the records written.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = datetime(2026, 12, 6, 9, 0, 0, 123000, tzinfo=UTC)
ZAP_STACK = "main.(*Job).Run\n\t/src/app/sync/job.go:57\nmain.main\n\t/src/app/main.go:20"


def go_logs() -> dict:
    rng = random.Random(5)
    zap, logrus = [], []
    levels: Counter = Counter()
    kept_times = []
    for i in range(40):
        t = START + timedelta(seconds=37 * i + rng.randrange(30))
        invoice = rng.randrange(1000, 9999)
        level = rng.choice(["info", "info", "debug", "warn", "error"])
        msg = {"info": f"invoice {invoice} synced", "debug": f"cache hit for supplier {invoice % 97}",
               "warn": f"retrying invoice {invoice} in 30 s", "error": "could not sync invoice"}[level]
        z = {"level": level, "ts": round(t.timestamp(), 3), "caller": "sync/job.go:57", "msg": msg, "invoice": invoice}
        r = {"invoice": invoice, "level": "warning" if level == "warn" else level, "msg": msg,
             "time": t.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if level == "error":
            z["error"] = r["error"] = "context deadline exceeded"
            z["stacktrace"] = ZAP_STACK
            r = dict(sorted(r.items()))
        zap.append(json.dumps(z, separators=(",", ":")))
        logrus.append(json.dumps(r, separators=(",", ":")))
        levels[level] += 1
        if level in ("warn", "error"):
            kept_times.append(t)
    (HERE / "zap.jsonl").write_text("\n".join(zap) + "\n")
    (HERE / "logrus.jsonl").write_text("\n".join(logrus) + "\n")
    kept = {k: v for k, v in levels.items() if k not in ("info", "debug")}
    first = min(kept_times).strftime("%Y-%m-%dT%H:%M:%S")
    return {"zap.jsonl": {"records": 40, "info": levels["info"] + levels["debug"], "levels": kept, "types": {},
                          "stacks": levels["error"], "first_ts": first},
            "logrus.jsonl": {"records": 40, "info": levels["info"] + levels["debug"],
                             "levels": {("warning" if k == "warn" else k): v for k, v in kept.items()}, "types": {},
                             "stacks": 0, "first_ts": first}}


def pino() -> dict | None:
    try:
        run = subprocess.run(["node", str(HERE / "node" / "pino_like.js")], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    (HERE / "pino.jsonl").write_text(run.stdout)
    truth = json.loads(run.stderr)
    return {"records": truth["records"], "info": truth["info"], "levels": truth["levels"], "types": truth["types"],
            "stacks": sum(truth["types"].values()), "first_ts": None}


def main() -> None:
    truth = go_logs()
    old = HERE / "json_logs_truth.json"
    truth["pino.jsonl"] = pino() or json.loads(old.read_text())["pino.jsonl"]
    old.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
