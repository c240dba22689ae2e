-- Half creates, half status appends on random jobs. New jobs are named like the seed's
-- (stack/seed.py), so the jobs each run adds on top of the list do not change what the
-- search scenarios of the next run find there.
local teams = {"billing", "search", "ingest", "reports", "ml", "payments", "auth", "mail"}
local tasks = {"nightly-etl", "hourly-sync", "backfill", "export", "reindex", "train",
               "cleanup", "digest"}
local envs = {"prod", "staging", "dev"}
local max_id = tonumber(os.getenv("BENCH_MAX_ID"))
local n = 0
math.randomseed(os.time())
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  if n % 2 == 0 then
    local m = n / 2
    local name = teams[m % 8 + 1] .. "-" .. tasks[math.floor(m / 8) % 8 + 1] .. "-"
                 .. envs[math.floor(m / 64) % 3 + 1] .. "-bench-" .. m
    return wrk.format("POST", "/api/jobs/", nil, '{"name": "' .. name .. '"}')
  end
  return wrk.format("PATCH", "/api/jobs/" .. math.random(1, max_id) .. "/", nil,
                    '{"status_type": "RUNNING"}')
end
