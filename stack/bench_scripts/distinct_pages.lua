-- GET one of 1,000 distinct list pages at random (limit 1..100, offset 0..9).
math.randomseed(os.time())
request = function()
  local r = math.random(0, 999)
  return wrk.format("GET", "/api/jobs/?limit=" .. (1 + r % 100) .. "&offset=" .. math.floor(r / 100))
end
