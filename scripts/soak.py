"""Soak test of the local server (see scripts/soak.sh): mixed native-mode traffic from a few
worker threads for SOAK_SECONDS (default 600), a progress line every 30 s with the server's RSS,
and a summary. Exits non-zero on any error or when the server's RSS grew by more than half
between the first progress line and the end.

Each worker plays one device after another (a device is a client token), and each cycle is:
  GET /v1/environment
  sign-up with a fresh Clerk test email (code 424242): create → prepare → attempt → session
  token refresh × 5, GET /v1/client, GET /v1/me, sign out
  wrong password × 3 (422 form_password_incorrect: expected, not errors)
  sign-in with the password, token refresh × 3, GET /v1/me, sign out
A device is kept for a few cycles (its client sees many sessions come and go), then replaced.

Errors: any 5xx, connection failure or timeout, non-JSON body, unexpected status, or a body the
next step cannot follow (no session id, no client token). A failed cycle starts a new device.

Environment: SOAK_SECONDS (600), SOAK_WORKERS (4), SOAK_MAX_REQUESTS (2,000,000),
SOAK_REPORT_SECONDS (30), SOAK_CYCLES_PER_DEVICE (5), FRONTDOOR_LOG (warn).
Python standard library only.
"""
import collections
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "4"))
MAX_REQUESTS = int(os.environ.get("SOAK_MAX_REQUESTS", "2000000"))
REPORT_EVERY = float(os.environ.get("SOAK_REPORT_SECONDS", "30"))
CYCLES_PER_DEVICE = int(os.environ.get("SOAK_CYCLES_PER_DEVICE", "5"))
TIMEOUT = 10.0
RSS_GROWTH_LIMIT = 1.5
PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "not the password at all"
TOKEN_REFRESHES_AFTER_SIGN_UP = 5
TOKEN_REFRESHES_AFTER_SIGN_IN = 3
WRONG_PASSWORD_ATTEMPTS = 3


class Stop(Exception):
    """The deadline or the request cap was reached: the worker ends its cycle there."""


class Failed(Exception):
    """A request counted as an error: the cycle is abandoned, the device replaced."""


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self.expected_422 = 0
        self.cycles = 0
        self.by_op = collections.defaultdict(lambda: {"n": 0, "total": 0.0, "max": 0.0})
        self.statuses = collections.Counter()  # (op, status) for every answered request
        self.error_kinds = collections.Counter()  # (op, kind) → count
        self.error_samples = {}  # (op, kind) → the first detail seen

    def take_slot(self, stop):
        """Reserves one request under the cap; False once stopping."""
        with self.lock:
            if stop.is_set():
                return False
            if self.requests >= MAX_REQUESTS:
                stop.set()
                return False
            self.requests += 1
            return True

    def answered(self, op, status, seconds):
        with self.lock:
            s = self.by_op[op]
            s["n"] += 1
            s["total"] += seconds
            s["max"] = max(s["max"], seconds)
            self.statuses[(op, status)] += 1

    def error(self, op, kind, detail):
        with self.lock:
            self.errors += 1
            self.error_kinds[(op, kind)] += 1
            self.error_samples.setdefault((op, kind), detail[:300])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def settings_text(url):
    """settings/development.toml with the rate limits raised as tests/sdk/harness.mjs
    `settingsFile` raises them (higher still), and the server's own URL as the token issuer.
    All traffic comes from one IP; the send caps are per destination and per client, which the
    mix stays under anyway (a fresh address per sign-up, a new device every few cycles)."""
    text = open("settings/development.toml").read()
    text = text.replace("http://127.0.0.1:3000", url)
    for old, new, required in [
        ("creates = 5 ", "creates = 100000 ", True),
        ("attempts = 3 ", "attempts = 100000 ", True),
        ("prepares = 3 ", "prepares = 100000 ", False),
        ("send_cooldown_secs = 30 ", "send_cooldown_secs = 0 ", False),
        ("sends_per_destination_per_hour = 5 ", "sends_per_destination_per_hour = 100000 ", False),
        ("sends_per_client_per_hour = 6 ", "sends_per_client_per_hour = 100000 ", False),
    ]:
        if old not in text:
            if required:
                sys.exit(f"soak: settings/development.toml has no {old!r}")
            continue
        text = text.replace(old, new, 1)
    return text


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


def die_with_parent():
    """In the server's child process: SIGTERM it if this script dies (even by SIGKILL)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Device:
    """One native client (a client token) on one keep-alive connection."""

    def __init__(self, port, stats, stop):
        self.port, self.stats, self.stop = port, stats, stop
        self.conn = None
        self.token = ""

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, op, method, path, form=None, expect=200):
        if not self.stats.take_slot(self.stop):
            raise Stop()
        body = urllib.parse.urlencode(form) if form is not None else None
        headers = {"authorization": self.token}
        if body is not None:
            headers["content-type"] = "application/x-www-form-urlencoded"
        sep = "&" if "?" in path else "?"
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
            self.conn.request(method, f"{path}{sep}_is_native=1", body=body, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            self.fail(op, "connection", f"{type(e).__name__}: {e}")
        elapsed = time.perf_counter() - started
        self.stats.answered(op, r.status, elapsed)
        if r.getheader("connection", "").lower() == "close":
            self.close()
        token = r.getheader("authorization")
        if token:
            self.token = token
        try:
            payload = json.loads(raw)
        except ValueError:
            self.fail(op, "non-JSON body", f"{r.status} {raw[:200]!r}")
        if r.status >= 500:
            self.fail(op, f"{r.status}", json.dumps(payload)[:300])
        if r.status != expect:
            self.fail(op, f"unexpected {r.status}", json.dumps(payload)[:300])
        if r.status == 422:
            with self.stats.lock:
                self.stats.expected_422 += 1
        return payload

    def fail(self, op, kind, detail):
        self.stats.error(op, kind, detail)
        raise Failed()

    def need(self, op, value, what, payload):
        if not value:
            self.fail(op, f"no {what}", json.dumps(payload)[:300])
        return value


def cycle(d, email):
    d.call("environment", "GET", "/v1/environment")

    su = d.call("sign_up.create", "POST", "/v1/client/sign_ups",
                {"email_address": email, "password": PASSWORD})
    sign_up = d.need("sign_up.create", (su.get("response") or {}).get("id"), "sign-up id", su)
    d.need("sign_up.create", d.token, "client token (Authorization)", su)
    d.call("sign_up.prepare", "POST", f"/v1/client/sign_ups/{sign_up}/prepare_verification",
           {"strategy": "email_code"})
    done = d.call("sign_up.attempt", "POST", f"/v1/client/sign_ups/{sign_up}/attempt_verification",
                  {"strategy": "email_code", "code": "424242"})
    session = d.need("sign_up.attempt", (done.get("response") or {}).get("created_session_id"),
                     "created_session_id", done)

    for _ in range(TOKEN_REFRESHES_AFTER_SIGN_UP):
        t = d.call("session.tokens", "POST", f"/v1/client/sessions/{session}/tokens")
        d.need("session.tokens", t.get("jwt"), "jwt", t)
    d.call("client", "GET", "/v1/client")
    me = d.call("me", "GET", "/v1/me")
    d.need("me", (me.get("response") or {}).get("id"), "user id", me)
    d.call("session.end", "POST", f"/v1/client/sessions/{session}/end")

    for _ in range(WRONG_PASSWORD_ATTEMPTS):
        d.call("sign_in.wrong_password", "POST", "/v1/client/sign_ins",
               {"identifier": email, "password": WRONG_PASSWORD}, expect=422)

    si = d.call("sign_in.password", "POST", "/v1/client/sign_ins",
                {"identifier": email, "password": PASSWORD})
    response = si.get("response") or {}
    if response.get("status") != "complete":
        d.fail("sign_in.password", "not complete", json.dumps(si)[:300])
    session = d.need("sign_in.password", response.get("created_session_id"), "created_session_id", si)
    for _ in range(TOKEN_REFRESHES_AFTER_SIGN_IN):
        t = d.call("session.tokens", "POST", f"/v1/client/sessions/{session}/tokens")
        d.need("session.tokens", t.get("jwt"), "jwt", t)
    d.call("me", "GET", "/v1/me")
    d.call("session.end", "POST", f"/v1/client/sessions/{session}/end")


def worker(index, port, stats, stop, run_id):
    d = Device(port, stats, stop)
    n = 0
    used = 0
    try:
        while not stop.is_set():
            if used >= CYCLES_PER_DEVICE:
                d.close()
                d = Device(port, stats, stop)
                used = 0
            n += 1
            email = f"soak{run_id}w{index}n{n}+clerk_test@example.com"
            try:
                cycle(d, email)
                used += 1
                with stats.lock:
                    stats.cycles += 1
            except Failed:
                d.close()
                d = Device(port, stats, stop)
                used = 0
                time.sleep(0.05)  # a failing server should not be hammered in a tight loop
            except Stop:
                break
    finally:
        d.close()


def wait_healthy(proc, port, deadline):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was healthy")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/v1/health")
            ok = c.getresponse().status == 200
            c.close()
            if ok:
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("server did not become healthy within 20 s")


def dir_mib(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total / (1024 * 1024)


def print_log(path, last=20):
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8", "replace").splitlines()
    if lines:
        print(f"server log ({len(lines)} lines), last {min(last, len(lines))}:")
        for line in lines[-last:]:
            print("  " + line[:500])


def stop_server(proc):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # its graceful shutdown (tokio::signal::ctrl_c)
    try:
        proc.wait(timeout=5)
        return
    except subprocess.TimeoutExpired:
        print("soak: server still running 5 s after SIGINT; killing it", flush=True)
    proc.kill()
    proc.wait(timeout=5)


def on_sigterm(signum, frame):
    raise KeyboardInterrupt()


def main():
    binary = sys.argv[1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="frontdoor-soak-")
    settings_path = os.path.join(data, "settings.toml")
    with open(settings_path, "w") as f:
        f.write(settings_text(url))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FRONTDOOR_") and k != "AWS_LAMBDA_RUNTIME_API"}
    env.update(FRONTDOOR_ADDR=f"127.0.0.1:{port}", FRONTDOOR_DATA_DIR=data,
               FRONTDOOR_SETTINGS=settings_path, FRONTDOOR_STORE="sqlite",
               FRONTDOOR_LOG=os.environ.get("FRONTDOOR_LOG", "warn"))
    log_path = os.path.join(data, "server.log")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, on_sigterm)

    stats = Stats()
    stop = threading.Event()
    threads = []
    interrupted = False
    server_died = None
    rss_first = rss_last = rss_peak_sampled = None
    rss_hwm = None
    reports = 0
    log = open(log_path, "wb")
    # Its own session: a terminal Ctrl-C reaches this script, which stops the server itself.
    proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True, preexec_fn=die_with_parent)
    print(f"soak: {binary} on {url}, data {data}, {WORKERS} workers, {SECONDS:.0f} s, "
          f"report every {REPORT_EVERY:.0f} s, cap {MAX_REQUESTS} requests", flush=True)
    started = time.monotonic()
    try:
        try:
            wait_healthy(proc, port, time.monotonic() + 20)
        except RuntimeError as e:
            stop_server(proc)
            log.close()
            print(f"soak: {e}")
            print_log(log_path)
            print(f"SOAK FAILED: the server did not start (data and log kept in {data})")
            return 1
        run_id = f"{int(time.time())}{os.getpid()}"
        started = time.monotonic()
        deadline = started + SECONDS
        print(f"soak: server healthy, pid {proc.pid}, RSS {mib(rss_kib(proc.pid))} MiB at start",
              flush=True)
        for i in range(WORKERS):
            t = threading.Thread(target=worker, args=(i, port, stats, stop, run_id),
                                 name=f"soak-{i}", daemon=True)
            t.start()
            threads.append(t)

        next_report = started + REPORT_EVERY
        last_report_t, last_report_n = started, 0
        while not stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                break
            stop.wait(min(1.0, deadline - now, max(0.0, next_report - now)) or 0.001)
            rss = rss_kib(proc.pid)
            if rss is not None:
                rss_peak_sampled = max(rss_peak_sampled or 0, rss)
            if proc.poll() is not None:
                server_died = proc.returncode
                stop.set()
                break
            now = time.monotonic()
            if now >= next_report and now < deadline:
                with stats.lock:
                    n, errors = stats.requests, stats.errors
                interval_rate = (n - last_report_n) / (now - last_report_t)
                reports += 1
                if reports == 1:
                    rss_first = rss
                print(f"[{now - started:6.0f} s] requests {n:>9}  {interval_rate:7.1f} req/s  "
                      f"errors {errors:>5}  RSS {mib(rss)} MiB", flush=True)
                last_report_t, last_report_n = now, n
                next_report += REPORT_EVERY
    except KeyboardInterrupt:
        interrupted = True
        print("\nsoak: interrupted; stopping", flush=True)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=TIMEOUT + 2)
        elapsed = time.monotonic() - started
        if proc.poll() is None:
            rss_last = rss_kib(proc.pid)
            rss_hwm = rss_kib(proc.pid, "VmHWM")
        elif server_died is None and threads:
            server_died = proc.returncode
        stop_server(proc)
        log.close()

    # Summary.
    n, errors = stats.requests, stats.errors
    print()
    print(f"soak summary: {elapsed:.0f} s, {n} requests ({n / max(elapsed, 1e-9):.1f} req/s), "
          f"{stats.cycles} complete cycles, {stats.expected_422} expected 422 (wrong password)")
    print(f"errors: {errors}")
    for (op, kind), count in sorted(stats.error_kinds.items(), key=lambda kv: -kv[1]):
        print(f"  {count:>7} × {op}: {kind} — first: {stats.error_samples[(op, kind)]}")
    peak = max(x for x in (rss_peak_sampled, rss_hwm, rss_last, 0) if x is not None)
    print(f"server RSS: first report {mib(rss_first)} MiB, last {mib(rss_last)} MiB, "
          f"peak {mib(peak or None)} MiB (VmHWM {mib(rss_hwm)} MiB)")
    print("per operation (count, mean ms, max ms, statuses):")
    for op, s in sorted(stats.by_op.items()):
        statuses = ", ".join(f"{st}×{c}" for (o, st), c in sorted(stats.statuses.items()) if o == op)
        print(f"  {op:24} {s['n']:>9} {s['total'] / s['n'] * 1000:8.2f} {s['max'] * 1000:9.1f}   {statuses}")

    print(f"data directory after the run: {dir_mib(data):.1f} MiB (embedded store and outbox)")
    print_log(log_path)

    failures = []
    if server_died is not None:
        failures.append(f"the server exited during the run (code {server_died})")
    if errors:
        failures.append(f"{errors} errors")
    if rss_first is None:
        print("RSS check skipped: the run ended before the first report")
    elif rss_last is None:
        failures.append("no final RSS (server not running at the end)")
    elif rss_last > rss_first * RSS_GROWTH_LIMIT:
        failures.append(f"RSS grew from {mib(rss_first)} to {mib(rss_last)} MiB "
                        f"(more than {round((RSS_GROWTH_LIMIT - 1) * 100)} %)")
    if interrupted and not failures:
        print(f"SOAK INTERRUPTED: no errors until then (server data and log kept in {data})")
        return 130
    if interrupted:
        failures.append("interrupted")
    if failures:
        print(f"SOAK FAILED: {'; '.join(failures)} (server data and log kept in {data})")
        return 1
    shutil.rmtree(data, ignore_errors=True)
    print("SOAK PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
