-- wrk: each request asks for one of N distinct codes (N from the first script argument).
local count = 10000
function init(args)
  count = tonumber(args[1]) or count
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  return wrk.format("GET", string.format("/s%05d", math.random(0, count - 1)))
end
