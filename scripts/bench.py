"""`make bench`: the local server under concurrent load, beside the physical references measured
in the same run (see scripts/bench.sh). Prints one table; numbers, not assertions.

    python3 scripts/bench.py SERVER_BINARY ARGON2_REFERENCE_BINARY RSA_REFERENCE_BINARY
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SERVER, ARGON2_REF, SIGNER_REF = sys.argv[1], sys.argv[2], sys.argv[3]
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
USERS = 32
PASSWORD = "correct horse battery staple"
CORES = os.cpu_count() or 1
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(data=None):
    port = free_port()
    data = data or tempfile.mkdtemp(prefix="frontdoor-bench-")
    settings = open("settings/development.toml").read()
    for name in ("creates", "attempts", "prepares"):
        settings = re.sub(rf"^{name} = \d+", f"{name} = 100000000", settings, flags=re.M)
    settings = settings.replace("http://127.0.0.1:3000", f"http://127.0.0.1:{port}")
    path = os.path.join(data, "settings.toml")
    open(path, "w").write(settings)
    env = dict(os.environ, FRONTDOOR_ADDR=f"127.0.0.1:{port}", FRONTDOOR_DATA_DIR=data,
               FRONTDOOR_SETTINGS=path, FRONTDOOR_LOG="error")
    started = time.perf_counter()
    proc = subprocess.Popen([SERVER], env=env)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/v1/health")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.001)
    first_ms = (time.perf_counter() - started) * 1000
    proc.data = data
    return proc, port, first_ms


class Native:
    """One native client (its token in `Authorization`) on one connection."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.token = ""

    def call(self, method, path, body=""):
        sep = "&" if "?" in path else "?"
        self.conn.request(method, f"{path}{sep}_is_native=1", body=body,
                          headers={"authorization": self.token,
                                   "content-type": "application/x-www-form-urlencoded"})
        r = self.conn.getresponse()
        payload = json.loads(r.read() or b"null")
        self.token = r.getheader("authorization") or self.token
        assert r.status == 200, (path, r.status, payload)
        return payload

    def sign_up(self, email):
        form = urllib.parse.urlencode({"email_address": email, "password": PASSWORD})
        su = self.call("POST", "/v1/client/sign_ups", form)["response"]["id"]
        self.call("POST", f"/v1/client/sign_ups/{su}/prepare_verification", "strategy=email_code")
        done = self.call("POST", f"/v1/client/sign_ups/{su}/attempt_verification",
                         "strategy=email_code&code=424242")
        return done["response"]["created_session_id"]


def wrk(port, script, env, seconds=SECONDS, connections=CONNECTIONS):
    """Runs wrk; returns (requests/s, p50 ms, p99 ms, errors)."""
    out = subprocess.run(
        ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", os.path.join(HERE, "bench", script), f"http://127.0.0.1:{port}"],
        env=dict(os.environ, **env), capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"):
        m = re.search(pattern, out)
        if m:
            errors += sum(int(g) for g in m.groups())
    return rate, ms("50"), ms("99"), errors


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rsa_reference():
    """RSA-2048 signatures per second with one process per core (`openssl speed -multi`): the
    best of three runs, so a stray process on the machine does not lower the bar."""
    best = 0.0
    for _ in range(3):
        out = subprocess.run(["openssl", "speed", "-multi", str(CORES), "-seconds", "3", "rsa2048"],
                             capture_output=True, text=True, check=True).stdout
        line = next(l for l in out.splitlines() if re.match(r"^rsa\s+2048", l))
        best = max(best, float(line.split()[-2]))
    return best


def argon2_reference():
    """Raw argon2id hashes per second at the project's parameters, one thread per core: the best
    of three runs."""
    best = 0.0
    for _ in range(3):
        out = subprocess.run([ARGON2_REF, str(CORES), "3"], capture_output=True, text=True, check=True)
        best = max(best, float(out.stdout.strip()))
    return best


def signer_reference():
    """RS256 signatures per second with the server's own signing code (aws-lc-rs), one thread
    per core: the best of three runs."""
    best = 0.0
    for _ in range(3):
        out = subprocess.run([SIGNER_REF, str(CORES), "3"], capture_output=True, text=True, check=True)
        best = max(best, float(out.stdout.strip()))
    return best


def main():
    rows = []

    def row(name, value, unit, reference=None, target=None, p50=None, p99=None, errors=None):
        ratio = value / reference if reference else None
        rows.append((name, value, unit, reference, ratio, target, p50, p99, errors))

    print(f"machine: {CORES} cores; wrk {CONNECTIONS} connections, {SECONDS} s per measure", flush=True)
    rsa = rsa_reference()
    signer = signer_reference()
    argon = argon2_reference()
    print(f"references: RSA-2048 sign {rsa:.0f}/s (openssl, {CORES} processes), "
          f"RS256 with the server's signer {signer:.0f}/s, argon2id {argon:.1f}/s ({CORES} threads)", flush=True)

    proc, port, first_ms = start_server()
    try:
        idle_rss = rss_mib(proc.pid)
        # Prepared: the users that sign in, and one signed-in client for refreshes.
        for i in range(USERS):
            Native(port).sign_up(f"bench{i}+clerk_test@example.com")
        client = Native(port)
        session = client.sign_up("refresher+clerk_test@example.com")
        env = {"BENCH_SESSION": session, "BENCH_TOKEN": client.token, "BENCH_USERS": str(USERS)}

        token = wrk(port, "token.lua", env)
        row("token refresh (vs openssl RSA-2048)", token[0], "/s", rsa, 0.85, *token[1:])
        row("token refresh (vs the server's own RS256 signer)", token[0], "/s", signer, None, *token[1:])
        render = wrk(port, "client.lua", env)
        row("client render GET /v1/client", render[0], "/s", None, None, *render[1:])
        sign_in = wrk(port, "sign_in.lua", env)
        row(f"password sign-in, {USERS} users", sign_in[0], "/s", argon, 0.85, *sign_in[1:])
        sign_up = wrk(port, "sign_up.lua", env)
        row("sign-up with a password", sign_up[0], "/s", argon, 0.85, *sign_up[1:])

        # Token refreshes while sign-ins saturate hashing.
        loaded = {}

        def sign_ins():
            loaded["sign_in"] = wrk(port, "sign_in.lua", env, seconds=SECONDS + 2)

        t = threading.Thread(target=sign_ins)
        t.start()
        time.sleep(1)
        busy = wrk(port, "token.lua", env)
        t.join()
        row("token refresh while sign-ins saturate hashing", busy[0], "/s", token[0], 0.5, *busy[1:])
        peak = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    # A restart on the stored keys, and a fresh store (its first key made in the background).
    proc2, _, restart_ms = start_server(proc.data)
    proc2.terminate()
    proc2.wait(timeout=10)

    print()
    print(f"{'measure':<50} {'value':>10} {'reference':>11} {'ratio':>6} {'target':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, value, unit, reference, ratio, target, p50, p99, errors in rows:
        ref = f"{reference:.0f}/s" if reference else "-"
        r = f"{ratio:.2f}" if ratio else "-"
        tgt = f"≥{target:.2f}" if target else "-"
        print(f"{name:<50} {value:>8.1f}{unit} {ref:>11} {r:>6} {tgt:>7} {p50:>8.2f} {p99:>8.2f} {errors:>7}")
    print(f"{'peak RSS after the load':<50} {peak:>8.1f} MiB (idle {idle_rss:.1f} MiB; target ≤ 96 MiB)")
    print(f"{'start to first response, fresh store':<50} {first_ms:>8.1f} ms (target ≤ 50 ms)")
    print(f"{'start to first response, keys stored':<50} {restart_ms:>8.1f} ms")
    errors = sum(r[8] or 0 for r in rows)
    print(f"errors: {errors}")


main()
