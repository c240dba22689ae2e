-- Half creates, half status appends on random jobs.
local max_id = tonumber(os.getenv("BENCH_MAX_ID"))
local n = 0
math.randomseed(os.time())
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  if n % 2 == 0 then
    return wrk.format("POST", "/api/jobs/", nil, '{"name": "bench-' .. n .. '"}')
  end
  return wrk.format("PATCH", "/api/jobs/" .. math.random(1, max_id) .. "/", nil,
                    '{"status_type": "RUNNING"}')
end
