"""`make bench`, DynamoDB part: the local server (speed profile) on the DynamoDB engine against moto, behind a
counting proxy. Speed against moto means nothing, so this prints, per operation, what the
deployed API would pay for: DynamoDB requests per API request (by kind) and the read and write
capacity units they consume.

moto reports a fixed capacity per call whatever the item, so the units are computed here from
the items that went over the wire, by DynamoDB's documented rules:
  - an item's size is the UTF-8 length of its attribute names plus its values (strings: UTF-8
    length; numbers: about one byte per two digits, plus one; binary: its length; booleans and
    nulls: 1; lists and maps: 3, plus each element, plus 1 per element);
  - a read is one unit per 4 KB (a strongly consistent one; eventually consistent: half), a
    query rounds the total of the items it returned, a batch read rounds each item;
  - a write is one unit per 1 KB of the item written (at least 1); a transaction costs double,
    for each of its items. A deleted item's or a condition check's size is not on the wire, so
    each counts as 1 KB (2 units in a transaction).

    python3 scripts/bench_dynamodb.py SERVER_BINARY MOTO_PYTHON
"""
import http.client
import http.server
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its server start-up and native client)

SERVER, MOTO_PYTHON = sys.argv[1], sys.argv[2]
REPEATS = 10


def attribute_size(value):
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = len(v.lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(v) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(attribute_size(e) + 1 for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(e) + 1 for k, e in v.items())
    if kind in ("SS", "BS"):
        return sum(len(e) for e in v)
    if kind == "NS":
        return sum(attribute_size({"N": e}) for e in v)
    return 0


def item_size(item):
    return sum(len(name.encode()) + attribute_size(value) for name, value in (item or {}).items())


def read_units(size, consistent):
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def write_units(size):
    return max(1, math.ceil(size / 1024))


def capacity(operation, request, response):
    """(read units, write units) of one DynamoDB call."""
    consistent = bool(request.get("ConsistentRead"))
    if operation == "GetItem":
        return read_units(item_size(response.get("Item")), consistent), 0
    if operation == "BatchGetItem":
        units = 0.0
        for table, items in response.get("Responses", {}).items():
            wanted = request["RequestItems"][table]
            units += sum(read_units(item_size(i), wanted.get("ConsistentRead")) for i in items)
        return units, 0
    if operation == "Query":
        if request.get("Select") == "COUNT":
            return float("nan"), 0
        return read_units(sum(item_size(i) for i in response.get("Items", [])), consistent), 0
    if operation == "PutItem":
        return 0, write_units(item_size(request.get("Item")))
    if operation in ("UpdateItem", "DeleteItem"):
        return 0, write_units(item_size(response.get("Attributes")))
    if operation == "TransactWriteItems":
        units = 0
        for t in request["TransactItems"]:
            put = t.get("Put")
            units += 2 * write_units(item_size(put["Item"]) if put else 1024)
        return 0, units
    if operation == "TransactGetItems":
        return sum(2 * read_units(item_size(r.get("Item")), True)
                   for r in response.get("Responses", [])), 0
    return 0, 0


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []

    def record(self, operation, request, response):
        with self.lock:
            self.calls.append((operation, *capacity(operation, request, response)))

    def take(self):
        with self.lock:
            calls, self.calls = self.calls, []
        return calls


def start_proxy(moto_port, counter):
    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            upstream = http.client.HTTPConnection("127.0.0.1", moto_port)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            upstream.request("POST", self.path, body=body, headers=headers)
            r = upstream.getresponse()
            payload = r.read()
            target = self.headers.get("x-amz-target", "")
            if target.startswith("DynamoDB_") and r.status == 200:
                counter.record(target.split(".")[-1], json.loads(body or b"{}"),
                               json.loads(payload or b"{}"))
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_moto():
    port = bench.free_port()
    proc = subprocess.Popen([MOTO_PYTHON, os.path.join(bench.HERE, "moto_serial.py"),
                             "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/moto-api/")
            c.getresponse().read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto did not start")


def main():
    moto, moto_port = start_moto()
    counter = Counter()
    proxy = start_proxy(moto_port, counter)
    env = {
        "FRONTDOOR_STORE": "dynamodb", "FRONTDOOR_TABLE": "frontdoor-bench",
        "FRONTDOOR_CREATE_TABLE": "1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.server_address[1]}",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
    }
    server, port, _ = bench.start_server(SERVER, extra_env=env)
    rows = []
    try:
        for i in range(REPEATS):
            bench.Native(port).sign_up(f"dynamo{i}+clerk_test@example.com")
        client = bench.Native(port)
        session = client.sign_up("dynamo-refresher+clerk_test@example.com")

        def measure(name, request):
            counter.take()
            for i in range(REPEATS):
                request(i)
            calls = counter.take()
            kinds = {}
            for operation, _, _ in calls:
                kinds[operation] = kinds.get(operation, 0) + 1
            shape = ", ".join(f"{n / REPEATS:g} {op}" for op, n in sorted(kinds.items()))
            reads = sum(c[1] for c in calls) / REPEATS
            writes = sum(c[2] for c in calls) / REPEATS
            rows.append((name, len(calls) / REPEATS, shape, reads, writes))

        measure("token refresh",
                lambda i: client.call("POST", f"/v1/client/sessions/{session}/tokens"))
        measure("client render GET /v1/client", lambda i: client.call("GET", "/v1/client"))
        measure("environment GET /v1/environment",
                lambda i: client.call("GET", "/v1/environment"))
        password = urllib.parse.quote_plus(bench.PASSWORD)
        measure("password sign-in (a new client)", lambda i: bench.Native(port).call(
            "POST", "/v1/client/sign_ins",
            f"identifier=dynamo{i}%2Bclerk_test%40example.com&password={password}"))
        measure("sign-up with a password (a new client)", lambda i: bench.Native(port).call(
            "POST", "/v1/client/sign_ups",
            f"email_address=new{i}%40bench.example.com&password={password}"))
    finally:
        server.terminate()
        server.wait(timeout=10)
        proxy.shutdown()
        moto.terminate()
        moto.wait(timeout=10)

    print()
    print(f"DynamoDB engine (moto behind a counting proxy), mean of {REPEATS} requests each")
    print(f"{'operation':<42} {'requests':>8}  {'read units':>10} {'write units':>11}  kinds")
    for name, n, shape, reads, writes in rows:
        print(f"{name:<42} {n:>8.1f}  {reads:>10.1f} {writes:>11.1f}  {shape}")


if __name__ == "__main__":
    main()
