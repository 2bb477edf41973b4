-- 90% reads of records PREFIX-1 .. PREFIX-N picked at random, 10% new
-- records (wrk ... -- PREFIX N RUNID).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  prefix, n = args[1] or "mix", tonumber(args[2] or "1000")
  newPrefix = (args[3] or "new") .. "-" .. tid .. "-"
  made = 0
  math.randomseed(tid * 7919 + os.time())
end
function request()
  if math.random(10) == 1 then
    made = made + 1
    local body = '{"id":"' .. newPrefix .. made .. '","species":"cow","sex":"male","name":"Bull ' .. made .. '"}'
    return wrk.format("POST", "/api/v1/animal", {["Content-Type"] = "application/json", ["Authorization"] = wrk.headers["Authorization"]}, body)
  end
  return wrk.format("GET", "/api/v1/animal/" .. prefix .. "-" .. math.random(n))
end
