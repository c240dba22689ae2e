-- Append a status to a random job.
local max_id = tonumber(os.getenv("BENCH_MAX_ID"))
local statuses = {"RUNNING", "COMPLETED", "FAILED", "RUNNING"}
math.randomseed(os.time())
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = '{"status_type": "' .. statuses[math.random(1, 4)] .. '"}'
  return wrk.format("PATCH", "/api/jobs/" .. math.random(1, max_id) .. "/", nil, body)
end
