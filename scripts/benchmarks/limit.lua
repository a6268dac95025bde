-- wrk: a fixed amount of work. Each thread stops after a number of answers and then appends
-- a line to a file, which the caller watches to end wrk (harness.wrk; -d only caps the run).
-- Arguments: that number per thread, the file, then optionally another script (post.lua,
-- spread.lua) and its arguments, which makes the requests.
local left, done_file
function init(args)
  left, done_file = tonumber(args[1]), args[2]
  if args[3] then
    local inner = { [0] = args[0] }
    for i = 4, #args do
      inner[i - 3] = args[i]
    end
    dofile(args[3]) -- defines the other script's init (and request), in place of this one
    init(inner)
  end
end

function response(status, headers, body)
  left = left - 1
  if left == 0 then
    wrk.thread:stop()
    local file = assert(io.open(done_file, "a"))
    file:write("done\n")
    file:close()
  end
end
