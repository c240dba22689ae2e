-- GET the history of a random job.
local max_id = tonumber(os.getenv("BENCH_MAX_ID"))
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/jobs/" .. math.random(1, max_id) .. "/statuses/")
end
