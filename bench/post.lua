-- wrk: the same small chat completion request for every peer.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- BENCH_BEARER: the key for the gateway under test (enclave's own key when its auth is on).
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_BEARER") or "sk-bench-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c1e")
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}'
