-- POST a new animal with each request: ids unique across threads and
-- runs (wrk ... -s post.lua -- RUNID). A write token given with
-- -H 'Authorization: Bearer ...' goes with each (a table of headers
-- replaces wrk's own).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  prefix = (args[1] or "post") .. "-" .. tid .. "-"
  n = 0
end
function request()
  n = n + 1
  local body = '{"id":"' .. prefix .. n .. '","species":"chicken","sex":"female","name":"Hen ' .. n .. '","dob":"2024-05-01"}'
  return wrk.format("POST", "/api/v1/animal", {["Content-Type"] = "application/json", ["Authorization"] = wrk.headers["Authorization"]}, body)
end
