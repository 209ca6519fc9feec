"""Cold start and token-refresh throughput of the local server (see scripts/bench.sh)."""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

binary = sys.argv[1]
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
data = tempfile.mkdtemp(prefix="frontdoor-bench-")
settings = open("settings/development.toml").read()
settings = settings.replace("creates = 5 ", "creates = 100000 ").replace("attempts = 3 ", "attempts = 100000 ")
settings_path = os.path.join(data, "settings.toml")
open(settings_path, "w").write(settings)
env = dict(os.environ, FRONTDOOR_ADDR=f"127.0.0.1:{port}", FRONTDOOR_DATA_DIR=data,
           FRONTDOOR_SETTINGS=settings_path, FRONTDOOR_LOG="warn")

started = time.perf_counter()
proc = subprocess.Popen([binary], env=env)
try:
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/v1/health")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.002)
    first = (time.perf_counter() - started) * 1000
    print(f"process start to first served request: {first:.1f} ms (fresh store: includes key generation)")

    conn = http.client.HTTPConnection("127.0.0.1", port)
    token = ""

    def call(method, path, body=""):
        global token
        sep = "&" if "?" in path else "?"
        conn.request(method, f"{path}{sep}_is_native=1", body=body,
                     headers={"authorization": token, "content-type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        payload = json.loads(r.read() or b"null")
        token = r.getheader("authorization") or token
        return r.status, payload

    form = urllib.parse.urlencode({"email_address": "bench+clerk_test@example.com", "password": "correct horse battery"})
    _, su = call("POST", "/v1/client/sign_ups", form)
    sid = su["response"]["id"]
    call("POST", f"/v1/client/sign_ups/{sid}/prepare_verification", "strategy=email_code")
    _, done = call("POST", f"/v1/client/sign_ups/{sid}/attempt_verification", "strategy=email_code&code=424242")
    session = done["response"]["created_session_id"]
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        status, _ = call("POST", f"/v1/client/sessions/{session}/tokens")
        assert status == 200
    elapsed = time.perf_counter() - t0
    print(f"token refresh: {n / elapsed:.0f} req/s sequential, {elapsed / n * 1000:.2f} ms each (one client connection)")

    proc.terminate()
    proc.wait(timeout=5)
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=env)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/v1/health")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.002)
    print(f"restart to first served request: {(time.perf_counter() - started) * 1000:.1f} ms (keys already stored)")
finally:
    proc.terminate()
    proc.wait(timeout=5)
