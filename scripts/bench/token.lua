-- Token refreshes of one signed-in native client (BENCH_SESSION, BENCH_TOKEN).
wrk.method = "POST"
wrk.path = "/v1/client/sessions/" .. os.getenv("BENCH_SESSION") .. "/tokens?_is_native=1"
wrk.headers["authorization"] = os.getenv("BENCH_TOKEN")
wrk.headers["content-type"] = "application/x-www-form-urlencoded"
