-- The client render of one signed-in native client (BENCH_TOKEN).
wrk.method = "GET"
wrk.path = "/v1/client?_is_native=1"
wrk.headers["authorization"] = os.getenv("BENCH_TOKEN")
