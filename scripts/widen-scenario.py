#!/usr/bin/env python3
"""Widens a scenario directory K times: every node (and its pods, events
and series) is copied K-1 times under new names (suffix -rK), so a
500-node scenario becomes a 5,000-node one for memory benchmarks of
`nodewatch replay`/`demo`. Streams metrics.om series by series (it is
written with each series contiguous), so it never holds the file.

With HOURS, the scenario is also cut to its first HOURS hours (samples
after that dropped, `end` and truth windows clipped).

usage: scripts/widen-scenario.py SRC DST K [HOURS]   (BENCHMARKS.md, "Replay memory")
"""
import json, re, sys, os

src, dst, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
hours = float(sys.argv[4]) if len(sys.argv) > 4 else None
os.makedirs(dst, exist_ok=True)
nodes = json.load(open(f"{src}/nodes.json"))
names = [n["metadata"]["name"] for n in nodes["items"]]
node_re = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
pod_re = re.compile(r'(pod="[^"]*)"')

def sub(text, r):
    return text if r == 0 else node_re.sub(lambda m: f"{m.group(0)}-r{r}", text)

def sub_series(prefix, r):
    if r == 0:
        return prefix
    return pod_re.sub(lambda m: f'{m.group(1)}-r{r}"', sub(prefix, r))

def json_copies(items, pods):
    out = []
    for r in range(k):
        for it in items:
            c = json.loads(sub(json.dumps(it), r))
            if r and pods:
                c["metadata"]["name"] += f"-r{r}"
                c["metadata"]["uid"] = c["metadata"].get("uid", "") + f"-r{r}"
            out.append(c)
    return out

nodes["items"] = json_copies(nodes["items"], False)
json.dump(nodes, open(f"{dst}/nodes.json", "w"))
pods = json.load(open(f"{src}/pods.json"))
pods["items"] = json_copies(pods["items"], True)
json.dump(pods, open(f"{dst}/pods.json", "w"))

with open(f"{src}/events.jsonl") as f, open(f"{dst}/events.jsonl", "w") as out:
    for line in f:
        if not line.strip():
            continue
        for r in range(k):
            e = json.loads(sub(line, r))
            if r:
                e["metadata"]["name"] += f"-r{r}"
                if e.get("involvedObject", {}).get("kind") == "Pod":
                    e["involvedObject"]["name"] += f"-r{r}"
            out.write(json.dumps(e, separators=(",", ":")) + "\n")

import yaml
meta = yaml.safe_load(open(f"{src}/scenario.yaml"))
meta["name"] += f"-x{k}"
meta["description"] = f"{meta.get('description', '')} (widened x{k})"
faulty = meta.get("truth", {}).get("faulty_nodes", [])
meta["truth"]["faulty_nodes"] = [dict(f, node=sub(f["node"], r)) for r in range(k) for f in faulty]
for key in ("start", "end"):
    meta[key] = meta[key].strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(meta[key], "strftime") else meta[key]
for f in meta["truth"]["faulty_nodes"]:
    for key in ("from", "to"):
        f[key] = f[key].strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(f[key], "strftime") else f[key]
cutoff = None
if hours is not None:
    import datetime
    start = datetime.datetime.strptime(meta["start"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    end = start + datetime.timedelta(hours=hours)
    cutoff = end.timestamp()
    meta["end"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    kept = []
    for f in meta["truth"]["faulty_nodes"]:
        if f["from"] <= meta["end"]:
            kept.append(dict(f, to=min(f["to"], meta["end"])))
    meta["truth"]["faulty_nodes"] = kept
    meta["truth"]["cluster_incidents"] = [
        dict(i, to=min(i["to"], meta["end"])) for i in meta["truth"].get("cluster_incidents", []) if i["from"] <= meta["end"]]
yaml.safe_dump(meta, open(f"{dst}/scenario.yaml", "w"), sort_keys=False)
if os.path.exists(f"{src}/nodes.jsonl"):
    with open(f"{src}/nodes.jsonl") as f, open(f"{dst}/nodes.jsonl", "w") as out:
        for line in f:
            for r in range(k):
                out.write(sub(line, r))

def flush(prefix, rests, out):
    copies = []
    for r in range(k):
        p = sub_series(prefix, r)
        if r and p == prefix:
            break  # no node or pod label: one series, not k
        copies.append(p)
    for p in copies:
        out.write("".join(p + rest for rest in rests))

with open(f"{src}/metrics.om") as f, open(f"{dst}/metrics.om", "w", buffering=1 << 20) as out:
    prefix, rests = None, []
    for line in f:
        if line.startswith("#") or not line.strip():
            if prefix is not None:
                flush(prefix, rests, out)
                prefix, rests = None, []
            out.write(line)
            continue
        cut = line.index("}") + 1 if "{" in line.split(" ", 1)[0] or line.find("{") < line.find(" ") else line.index(" ")
        p, rest = line[:cut], line[cut:]
        if p != prefix:
            if prefix is not None:
                flush(prefix, rests, out)
            prefix, rests = p, []
        if cutoff is None or float(rest.split()[1]) <= cutoff:
            rests.append(rest)
    if prefix is not None:
        flush(prefix, rests, out)
