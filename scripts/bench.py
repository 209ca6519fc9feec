"""`make bench`: the local server under concurrent load, beside the physical references measured
in the same run (see scripts/bench.sh). Prints one table; numbers, not assertions. Then, when
MOTO_PYTHON names a Python with moto installed, the DynamoDB engine against moto: round trips and
capacity units per operation (scripts/bench_dynamodb.py).

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


def start_server(server, data=None, extra_env=None):
    port = free_port()
    data = data or tempfile.mkdtemp(prefix="frontdoor-bench-")
    settings = open("settings/development.toml").read()
    for name in ("creates", "attempts", "prepares"):
        settings = re.sub(rf"^{name} = \d+", f"{name} = 100000000", settings, flags=re.M)
    settings = settings.replace("http://127.0.0.1:3000", f"http://127.0.0.1:{port}")
    path = os.path.join(data, "settings.toml")
    open(path, "w").write(settings)
    env = dict(os.environ, FRONTDOOR_ADDR=f"127.0.0.1:{port}", FRONTDOOR_DATA_DIR=data,
               FRONTDOOR_SETTINGS=path, FRONTDOOR_LOG="error", **(extra_env or {}))
    started = time.perf_counter()
    proc = subprocess.Popen([server], env=env)
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


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Load:
    """One wrk run: rate, latency, errors, and the CPU each request cost the server and wrk."""

    def __init__(self, rate, p50, p99, errors, server_us=None, wrk_us=None):
        self.rate, self.p50, self.p99, self.errors = rate, p50, p99, errors
        self.server_us, self.wrk_us = server_us, wrk_us


def wrk(port, script, env, seconds=SECONDS, connections=CONNECTIONS, server_pid=None):
    """Runs wrk; returns a Load (CPU per request when `server_pid` is given and nothing else
    loads the server meanwhile)."""
    server_before = cpu_seconds(server_pid) if server_pid else None
    wrk_before = children_cpu_seconds()
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
    requests = int(re.search(r"(\d+) requests in", out).group(1)) or 1
    server_us = None
    if server_pid:
        server_us = (cpu_seconds(server_pid) - server_before) * 1e6 / requests
    wrk_us = (children_cpu_seconds() - wrk_before) * 1e6 / requests
    return Load(rate, ms("50"), ms("99"), errors, server_us, wrk_us)


def best_of(runs, measure):
    """The best of `runs` measurements (by rate): the machine's noise treated the same way for
    the server's figures as for the references."""
    return max((measure() for _ in range(runs)), key=lambda m: m.rate if isinstance(m, Load) else m)


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
    """RSA-2048 signatures per second with one process per core (`openssl speed -multi`), the
    best of three runs, so a stray process on the machine does not lower the bar."""
    def once():
        out = subprocess.run(["openssl", "speed", "-multi", str(CORES), "-seconds", "3", "rsa2048"],
                             capture_output=True, text=True, check=True).stdout
        line = next(l for l in out.splitlines() if re.match(r"^rsa\s+2048", l))
        return float(line.split()[-2])
    return best_of(3, once)


def reference_binary(path):
    """Rate printed by one of the project's reference binaries (one thread per core, 3 s), the
    best of three runs: raw argon2id at the project's parameters, or RS256 with the server's
    own signer (aws-lc-rs) and a token-sized payload."""
    return best_of(3, lambda: float(subprocess.run(
        [path, str(CORES), "3"], capture_output=True, text=True, check=True).stdout.split()[0]))


def argon2_memory_ways(path):
    """Raw argon2id by the way each hash gets its 19 MiB (3 s each): the rate and the peak RSS,
    to show which way of bounding memory wins — a block per worker reused (the server's), or a
    fresh block per hash from an allocator that gives it back."""
    ways = [
        ("one block per worker, reused (the server)", CORES, "reuse", {}),
        ("fresh per hash, glibc defaults", CORES, "fresh", {}),
        ("fresh per hash, glibc defaults", CONNECTIONS, "fresh", {}),
        # A fixed threshold keeps glibc from raising it past 19 MiB after the first free, so every
        # block is mapped for its hash and unmapped after: memory given back at once.
        ("fresh per hash, given back (MALLOC_MMAP_THRESHOLD_=131072)", CORES, "fresh",
         {"MALLOC_MMAP_THRESHOLD_": "131072"}),
        ("fresh per hash, given back (MALLOC_MMAP_THRESHOLD_=131072)", CONNECTIONS, "fresh",
         {"MALLOC_MMAP_THRESHOLD_": "131072"}),
    ]
    out = []
    for label, threads, mode, env in ways:
        rate, peak = subprocess.run([path, str(threads), "3", mode], env=dict(os.environ, **env),
                                    capture_output=True, text=True, check=True).stdout.split()[:2]
        out.append((label, threads, float(rate), float(peak)))
    return out


def main(server, argon2_ref, signer_ref):
    rows = []

    def row(name, value, unit, reference, target, load):
        ratio = value / reference if reference else None
        rows.append((name, value, unit, reference, ratio, target, load))

    print(f"machine: {CORES} cores; wrk {CONNECTIONS} connections, {SECONDS} s per measure", flush=True)
    rsa = rsa_reference()
    signer = reference_binary(signer_ref)
    argon = reference_binary(argon2_ref)
    print(f"references: RSA-2048 sign {rsa:.0f}/s (openssl, {CORES} processes), "
          f"RS256 with the server's signer {signer:.0f}/s, argon2id {argon:.1f}/s ({CORES} threads)", flush=True)

    proc, port, first_ms = start_server(server)
    try:
        idle_rss = rss_mib(proc.pid)
        # Prepared: the users that sign in, and one signed-in client for refreshes.
        for i in range(USERS):
            Native(port).sign_up(f"bench{i}+clerk_test@example.com")
        client = Native(port)
        session = client.sign_up("refresher+clerk_test@example.com")
        env = {"BENCH_SESSION": session, "BENCH_TOKEN": client.token, "BENCH_USERS": str(USERS)}

        # The token path in three shorter runs, the best taken, as for its references.
        token = best_of(3, lambda: wrk(port, "token.lua", env, seconds=max(3, SECONDS // 2),
                                       server_pid=proc.pid))
        row("token refresh (vs openssl RSA-2048)", token.rate, "/s", rsa, 0.85, token)
        row("token refresh (vs the server's own RS256 signer)", token.rate, "/s", signer, None, token)
        render = wrk(port, "client.lua", env, server_pid=proc.pid)
        row("client render GET /v1/client", render.rate, "/s", None, None, render)
        sign_in = wrk(port, "sign_in.lua", env, server_pid=proc.pid)
        row(f"password sign-in, {USERS} users", sign_in.rate, "/s", argon, 0.85, sign_in)
        # One user from every connection at once: the same rate, and no 409 (a conflict would
        # show as an error).
        one_user = wrk(port, "sign_in.lua", dict(env, BENCH_USERS="1"), server_pid=proc.pid)
        row(f"password sign-in, 1 user from {CONNECTIONS} clients at once", one_user.rate, "/s",
            argon, 0.85, one_user)
        sign_up = wrk(port, "sign_up.lua", env, server_pid=proc.pid)
        row("sign-up with a password", sign_up.rate, "/s", argon, 0.85, sign_up)

        # Token refreshes while sign-ins saturate hashing.
        loaded = {}

        def sign_ins():
            loaded["sign_in"] = wrk(port, "sign_in.lua", env, seconds=SECONDS + 2)

        t = threading.Thread(target=sign_ins)
        t.start()
        time.sleep(1)
        busy = wrk(port, "token.lua", env)
        t.join()
        row("token refresh while sign-ins saturate hashing", busy.rate, "/s", token.rate, 0.5, busy)
        peak = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    # A restart on the stored keys, and a fresh store (its first key made in the background).
    proc2, _, restart_ms = start_server(server, proc.data)
    proc2.terminate()
    proc2.wait(timeout=10)

    print()
    print(f"{'measure':<50} {'value':>10} {'reference':>11} {'ratio':>6} {'target':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU µs/req':>11}")
    for name, value, unit, reference, ratio, target, load in rows:
        ref = f"{reference:.0f}/s" if reference else "-"
        r = f"{ratio:.2f}" if ratio else "-"
        tgt = f"≥{target:.2f}" if target else "-"
        cpu = f"{load.server_us:.0f}+{load.wrk_us:.0f}" if load.server_us else "-"
        print(f"{name:<50} {value:>8.1f}{unit} {ref:>11} {r:>6} {tgt:>7} {load.p50:>8.2f} {load.p99:>8.2f} {load.errors:>7} {cpu:>11}")
    sign_us = CORES * 1e6 / signer
    print(f"CPU µs/req: server + wrk per request (both share the {CORES} cores). One RS256 signature "
          f"costs {sign_us:.0f} µs of a core here ({signer:.0f}/s on {CORES} cores), so a refresh "
          f"reaches 0.85× only if everything else — HTTP, the store read, the kernel's loopback "
          f"and wrk itself — costs under {0.15 * sign_us / 0.85:.0f} µs.")
    print(f"{'peak RSS after the load':<50} {peak:>8.1f} MiB (idle {idle_rss:.1f} MiB; target ≤ 96 MiB)")
    print(f"{'start to first response, fresh store':<50} {first_ms:>8.1f} ms (target ≤ 50 ms)")
    print(f"{'start to first response, keys stored':<50} {restart_ms:>8.1f} ms")
    errors = sum(r[6].errors for r in rows)
    print(f"errors: {errors}")

    print()
    print("argon2id's 19 MiB, by how each hash gets it (raw hashing, 3 s each; threads = "
          f"hashes at once: {CORES} is one per core, {CONNECTIONS} one per concurrent sign-in as "
          "on tokio's blocking pool):")
    print(f"{'way':<62} {'threads':>7} {'rate':>9} {'peak RSS':>10}")
    for label, threads, rate, peak in argon2_memory_ways(argon2_ref):
        print(f"{label:<62} {threads:>7} {rate:>7.1f}/s {peak:>6.1f} MiB")


if __name__ == "__main__":
    main(*sys.argv[1:4])
