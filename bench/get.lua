-- wrk script: GET with the key in $BENCH_KEY.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
