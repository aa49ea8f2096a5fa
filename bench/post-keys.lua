-- wrk script: POST the body in $BENCH_BODY, each request with the next of the keys in $BENCH_KEYS
-- (separated by spaces): submissions from many customers at once, not one key's queue.
local keys = {}
for key in string.gmatch(os.getenv("BENCH_KEYS"), "%S+") do keys[#keys + 1] = key end
local next_key = 0
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
request = function()
  next_key = next_key % #keys + 1
  wrk.headers["Authorization"] = "Bearer " .. keys[next_key]
  return wrk.format()
end
