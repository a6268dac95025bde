-- wrk: each thread asks for the N codes (N from the first script argument) in an order of
-- its own, each code once, then again in a new order: N requests of a thread visit every
-- link once (random draws of N leave a third of them out).
local count, order, next_at = 10000, {}, 1

local function shuffle()
  for i = count, 2, -1 do
    local j = math.random(i)
    order[i], order[j] = order[j], order[i]
  end
  next_at = 1
end

function init(args)
  count = tonumber(args[1]) or count
  -- the threads start within the same second: a table's address tells them apart
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000003)
  for i = 1, count do
    order[i] = i - 1
  end
  shuffle()
end

function request()
  if next_at > count then
    shuffle()
  end
  local code = order[next_at]
  next_at = next_at + 1
  return wrk.format("GET", string.format("/s%05d", code))
end
