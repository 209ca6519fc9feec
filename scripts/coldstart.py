"""Cold starts of the Lambda functions: each function's real `bootstrap` (a release build for
this machine) started under a Lambda Runtime API emulator, as Lambda starts it, with DynamoDB on
moto. Prints, per function, the binary's size, the init time (process start to its first
`GET …/invocation/next`: settings, AWS clients, the DynamoDB connection) and the time to the
first response (one cheap request, the kind of answer its first caller gets), each the median of
RUNS starts. Numbers, not assertions; `make coldstart` runs it.

    python3 scripts/coldstart.py MOTO_PYTHON BOOTSTRAP…
"""
import http.client
import http.server
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import bench_dynamodb  # noqa: E402

RUNS = int(os.environ.get("COLDSTART_RUNS", "5"))

# The first request each function answers: cheap, and answered without a signed-in client.
FIRST_REQUEST = {
    "fn-environment": ("GET", "/v1/environment"),
    "fn-client": ("GET", "/v1/client"),
    "fn-sign-ins": ("GET", "/v1/client/sign_ins/sia_coldstart"),
    "fn-sign-ups": ("GET", "/v1/client/sign_ups/sua_coldstart"),
    "fn-sessions": ("POST", "/v1/client/sessions/sess_coldstart/tokens"),
    "fn-me": ("GET", "/v1/me"),
    "fn-backend": ("GET", "/v1/users"),
    "fn-assets": ("GET", "/v1/health"),
    "fn-webhooks": None,  # a schedule event, not HTTP
}


def http_event(method, path):
    """An API Gateway HTTP API (payload 2.0) event."""
    host = "coldstart.execute-api.us-east-1.amazonaws.com"
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": host, "user-agent": "coldstart"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "coldstart", "domainName": host,
            "domainPrefix": "coldstart", "requestId": "coldstart", "routeKey": "$default",
            "stage": "$default", "time": "27/Nov/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.9", "userAgent": "coldstart"},
        },
        "isBase64Encoded": False,
    }


def schedule_event():
    return {"version": "0", "id": "coldstart", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "region": "us-east-1",
            "resources": [], "detail": {}}


class RuntimeApi:
    """The part of the Lambda Runtime API a function uses: next invocation, response, errors.
    Records when the function first asked for work and when it answered."""

    def __init__(self):
        self.events = queue.Queue()
        self.marks = queue.Queue()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path.endswith("/invocation/next"):
                    api.marks.put(("next", time.perf_counter()))
                    event = api.events.get()
                    body = json.dumps(event).encode()
                    self.send_response(200)
                    self.send_header("Lambda-Runtime-Aws-Request-Id", "coldstart-1")
                    self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                    self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                     "arn:aws:lambda:us-east-1:123456789012:function:coldstart")
                    self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                kind = "response" if self.path.endswith("/response") else "error"
                api.marks.put((kind, time.perf_counter(), body))
                self.send_response(202)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # The function's poll after its answer stays parked in a handler thread: let it.
        self.server.daemon_threads = True
        self.server.block_on_close = False
        # A killed function drops its connection: not an error of the measurement.
        self.server.handle_error = lambda request, address: None
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"


def start(binary, env):
    """One cold start, under an emulator of its own (a killed function's last poll must not
    take the next one's event)."""
    api = RuntimeApi()
    name = os.path.basename(binary)
    request = FIRST_REQUEST.get(name, ("GET", "/v1/health"))
    api.events.put(http_event(*request) if request else schedule_event())
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=dict(os.environ, **env, AWS_LAMBDA_RUNTIME_API=api.address(),
                                                AWS_LAMBDA_FUNCTION_NAME=name),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    def next_mark():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                return api.marks.get(timeout=0.05)
            except queue.Empty:
                if proc.poll() is not None:
                    break
        proc.kill()
        raise SystemExit(f"{name}: no answer; its stderr:\n{proc.stderr.read().decode()[-2000:]}")

    try:
        kind, init_done = next_mark()[:2]
        if kind != "next":
            raise SystemExit(f"{name}: init failed")
        mark = next_mark()
        if mark[0] != "response":
            raise SystemExit(f"{name}: the first invocation failed: {mark[2][:300]!r}")
        status = json.loads(mark[2] or b"{}").get("statusCode", "-")
        return name, (init_done - started) * 1000, (mark[1] - started) * 1000, status
    finally:
        proc.kill()
        proc.wait()
        api.server.shutdown()
        api.server.server_close()


def main():
    moto_python, binaries = sys.argv[1], sys.argv[2:]
    bench_dynamodb.MOTO_PYTHON = moto_python
    moto, moto_port = bench_dynamodb.start_moto()
    env = {
        "FRONTDOOR_STORE": "dynamodb", "FRONTDOOR_TABLE": "frontdoor-coldstart",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_ACCESS_KEY_ID": "coldstart", "AWS_SECRET_ACCESS_KEY": "coldstart",
        "AWS_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_GROUP_NAME": "coldstart",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart", "FRONTDOOR_LOG": "error",
        "FRONTDOOR_WEBHOOK_SECRET": "whsec_" + "Y29sZHN0YXJ0LWNvbGRzdGFydC1jb2xkc3RhcnQ=",
    }
    rows = []
    try:
        # The table, made once by a first start that is not counted (of a function that opens
        # the store: the assets function does not).
        first = next((b for b in binaries if os.path.basename(b) != "fn-assets"), binaries[0])
        start(first, dict(env, FRONTDOOR_CREATE_TABLE="1"))
        for binary in binaries:
            runs = [start(binary, env) for _ in range(RUNS)]
            name, status = runs[0][0], runs[0][3]
            rows.append((name, os.path.getsize(binary) / 2**20,
                         statistics.median(r[1] for r in runs),
                         statistics.median(r[2] for r in runs), status))
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    print(f"\nCold starts under the Runtime API emulator (DynamoDB: moto on loopback), median of {RUNS}")
    print(f"{'function':<16} {'binary':>9} {'init':>9} {'first response':>15}  status")
    for name, size, init, first, status in rows:
        print(f"{name:<16} {size:>6.2f} MB {init:>6.1f} ms {first:>12.1f} ms  {status}")


if __name__ == "__main__":
    main()
