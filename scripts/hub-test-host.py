#!/usr/bin/env python3
"""A small Hugging Face hub look-alike on 127.0.0.1 for workbench's fetch tests and benchmark.

It serves the parts of the hub protocol `workbench fetch` uses, from a JSON config:

  GET  /api/{models|datasets}/ORG/NAME/revision/REV[?blobs=true]   -> {"id", "sha", "siblings": [...]}
  GET  /api/{models|datasets}/ORG/NAME/commits/REV[?p=N]  -> the history, newest first, `page_size`
       commits per page, the next page in `Link: <URL>; rel="next"` as the hub does
  GET|HEAD /ORG/NAME/resolve/REV/PATH  (datasets: /datasets/ORG/NAME/resolve/REV/PATH)
       -> the file, honouring one `Range: bytes=N-` / `bytes=N-M` (206, or 416 past the end),
          with X-Repo-Commit and ETag headers like the hub's
  GET|HEAD /files/HOST/PATH -> a plain file (config "files": {"HOST/PATH": "/file/on/disk"}), with
       Range, as a mirror of https://HOST/PATH serves it (WORKBENCH_FILES_MIRROR=http://.../files)
  GET  /_stats -> per-path request counts, the Range headers seen, and the plain files asked for
       with an Authorization header (for the tests)
  GET  /_set?rate=N&ignore_range=0|1&corrupt=a,b -> change the faults below while running
  GET  /_set?private=models/org/name  -> the repository needs the token from now on (a gated one)
  GET  /_set?remove=models/org/name   -> the repository disappears (401 RepoNotFound, as the hub answers)
  GET  /_set?squash=models/org/name   -> its history becomes one new commit holding main's files, dated
       now; the old commits are gone (404 on their revision)

Config (JSON file given with --config):
  {"repos": {"models/org/name": {"refs": {"main": "<40 hex>"}, "private": false,
                                 "commits": {"<40 hex>": {"path/in/repo": "/file/on/disk", ...}},
                                 "history": [{"id": "<40 hex>", "date": "2024-05-01T10:00:00.000Z",
                                              "title": "..."}, ...]}},   # newest first; default: main's
                                                                          # commit dated 2024-01-01
   "page_size": 50,             # commits per history page
   "token": "hf_...",           # when set, private repos need `Authorization: Bearer <token>`
   "ignore_range": false,       # answer 200 with the whole body even when asked for a range
   "corrupt": ["path/in/repo"], # serve these with one byte flipped (the API still lists the true digest)
   "rate": 0,                   # bytes per second per response (0: as fast as possible)
   "lfs_threshold": 1024}       # files at least this large are LFS files (sha256 etag), others git blobs

The listening port is written to --port-file once the server accepts connections.
"""
import argparse
import hashlib
import json
import os
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse, parse_qs


def git_blob_sha1(path):
    size = os.path.getsize(path)
    h = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Hub:
    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self.stats = {"requests": {}, "ranges": {}}
        self.meta = {}  # (disk path) -> (size, sha256 or None, git sha1)

    def file_meta(self, disk):
        with self.lock:
            if disk in self.meta:
                return self.meta[disk]
        size = os.path.getsize(disk)
        lfs = size >= self.config.get("lfs_threshold", 1024)
        meta = (size, sha256_file(disk) if lfs else None, git_blob_sha1(disk))
        with self.lock:
            self.meta[disk] = meta
        return meta

    def count(self, key, rng):
        with self.lock:
            self.stats["requests"][key] = self.stats["requests"].get(key, 0) + 1
            if rng:
                self.stats["ranges"].setdefault(key, []).append(rng)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub = None  # set by main

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, status, body, extra=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, status, message, code):
        self.send_json(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

    def authorized(self, repo):
        token = self.hub.config.get("token")
        if not repo.get("private") or not token:
            return True
        return self.headers.get("Authorization", "") == f"Bearer {token}"

    def find(self, kind, name, rev):
        repos = self.hub.config["repos"]
        repo = repos.get(f"{kind}/{name}")
        if repo is None:
            return None, None, (401, "Repository Not Found", "RepoNotFound")
        if not self.authorized(repo):
            return None, None, (401, "Invalid credentials in Authorization header", "GatedRepo")
        commit = repo.get("refs", {}).get(rev, rev)
        if commit not in repo["commits"]:
            return None, None, (404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return repo, commit, None

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlparse(self.path)
        path = unquote(url.path)
        if path == "/_stats":
            with self.hub.lock:
                return self.send_json(200, self.hub.stats)
        if path == "/_set":  # tests change faults between requests: /_set?rate=0&ignore_range=1&corrupt=a,b
            with self.hub.lock:
                self.hub.meta.clear()  # files on disk may have changed: digest them again
            for key, values in parse_qs(url.query, keep_blank_values=True).items():
                v = values[-1]
                if key == "corrupt":
                    self.hub.config["corrupt"] = [x for x in v.split(",") if x]
                elif key in ("rate", "lfs_threshold"):
                    self.hub.config[key] = int(v)
                elif key == "ignore_range":
                    self.hub.config[key] = v in ("1", "true")
                elif key == "private":
                    self.hub.config["repos"][v]["private"] = True
                elif key == "remove":
                    self.hub.config["repos"].pop(v, None)
                elif key == "squash":
                    repo = self.hub.config["repos"][v]
                    main = repo["refs"]["main"]
                    new = hashlib.sha1(f"squashed {v} {time.time()}".encode()).hexdigest()
                    repo["commits"] = {new: repo["commits"][main]}
                    repo["refs"] = {"main": new}
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
                    repo["history"] = [{"id": new, "date": stamp, "title": "Squash history"}]
            return self.send_json(200, {k: v for k, v in self.hub.config.items() if k != "token"})
        m = re.match(r"^/api/(models|datasets)/([^/]+/[^/]+)/revision/([^/]+)$", path)
        if m:
            kind, name, rev = m.groups()
            self.hub.count(f"api:{kind}/{name}@{rev}", None)
            repo, commit, err = self.find(kind, name, rev)
            if err:
                return self.error(*err)
            siblings = []
            for rel, disk in sorted(repo["commits"][commit].items()):
                size, sha, blob = self.hub.file_meta(disk)
                entry = {"rfilename": rel, "size": size, "blobId": blob}
                if sha:
                    entry["lfs"] = {"sha256": sha, "size": size, "pointerSize": 134}
                siblings.append(entry)
            return self.send_json(200, {"id": name, "sha": commit, "siblings": siblings,
                                        "private": bool(repo.get("private"))})
        m = re.match(r"^/api/(models|datasets)/([^/]+/[^/]+)/commits/([^/]+)$", path)
        if m:
            kind, name, rev = m.groups()
            self.hub.count(f"commits:{kind}/{name}@{rev}", None)
            repo, commit, err = self.find(kind, name, rev)
            if err:
                return self.error(*err)
            history = repo.get("history") or [{"id": commit, "date": "2024-01-01T00:00:00.000Z", "title": "Initial commit"}]
            ids = [c["id"] for c in history]
            history = history[ids.index(commit):] if commit in ids else history
            size = int(self.hub.config.get("page_size", 50))
            page = int(parse_qs(url.query).get("p", ["0"])[0])
            items = [{"id": c["id"], "title": c.get("title", ""), "message": "", "authors": [{"user": "tester"}],
                      "date": c["date"]} for c in history[page * size:(page + 1) * size]]
            extra = {}
            if (page + 1) * size < len(history):
                host = self.headers.get("Host", "127.0.0.1")
                extra["Link"] = f'<http://{host}/api/{kind}/{name}/commits/{rev}?p={page + 1}>; rel="next"'
            return self.send_json(200, items, extra)
        if path.startswith("/files/"):  # plain files, as a files mirror serves https://HOST/PATH
            rel = path[len("/files/"):]
            self.hub.count(f"url:{rel}", self.headers.get("Range"))
            if self.headers.get("Authorization"):  # a token must never reach a plain file's server
                with self.hub.lock:
                    self.hub.stats.setdefault("authorized", []).append(rel)
            disk = self.hub.config.get("files", {}).get(rel)
            if disk is None or not os.path.exists(disk):
                return self.error(404, f"Not found: {rel}", "EntryNotFound")
            return self.send_file(disk, rel, None, None, None)
        m = re.match(r"^(?:/(datasets))?/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if not m:
            return self.error(404, "Not Found", "EntryNotFound")
        kind = m.group(1) or "models"
        name, rev, rel = m.group(2), m.group(3), m.group(4)
        rng = self.headers.get("Range")
        self.hub.count(f"file:{kind}/{name}/{rel}", rng)
        repo, commit, err = self.find(kind, name, rev)
        if err:
            return self.error(*err)
        disk = repo["commits"][commit].get(rel)
        if disk is None:
            return self.error(404, f"Entry not found: {rel}", "EntryNotFound")
        size, sha, blob = self.hub.file_meta(disk)
        return self.send_file(disk, rel, commit, sha, blob)

    def send_file(self, disk, rel, commit, sha, blob):
        """The file at `disk`, honouring one Range header; hub headers when `commit` is given."""
        size = os.path.getsize(disk)
        rng = self.headers.get("Range")
        start, end = 0, size - 1
        status = 200
        if rng and not self.hub.config.get("ignore_range"):
            r = re.match(r"^bytes=(\d+)-(\d*)$", rng)
            if r:
                start = int(r.group(1))
                if r.group(2):
                    end = min(int(r.group(2)), size - 1)
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if commit:
            self.send_header("X-Repo-Commit", commit)
            self.send_header("ETag", f'"{sha or blob}"')
        if sha:
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(size))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        corrupt = rel in self.hub.config.get("corrupt", [])
        rate = self.hub.config.get("rate", 0)
        try:
            with open(disk, "rb") as f:
                f.seek(start)
                remaining = end - start + 1
                if not corrupt and not rate:
                    self.wfile.flush()
                    sent = self.connection.sendfile(f, offset=start, count=remaining)
                    return
                pos = start
                t0 = time.monotonic()
                while remaining > 0:
                    chunk = f.read(min(remaining, 1 << 16 if not rate else max(1024, rate // 20)))
                    if not chunk:
                        break
                    if corrupt and pos <= size // 2 < pos + len(chunk):
                        b = bytearray(chunk)
                        b[size // 2 - pos] ^= 0xFF
                        chunk = bytes(b)
                    self.wfile.write(chunk)
                    pos += len(chunk)
                    remaining -= len(chunk)
                    if rate:
                        ahead = (pos - start) / rate - (time.monotonic() - t0)
                        if ahead > 0:
                            time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    Handler.hub = Hub(config)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
