-- PATCH records with If-Match, as a careful client does: each request
-- changes a record whose current ETag this thread knows, taken from the
-- answer to its last GET or PATCH; a record is in one request at a time.
-- The records PREFIX-1 .. PREFIX-N must exist (wrk ... -- PREFIX N); each
-- thread takes its own share of them.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
  thread:set("nthreads", threads)
end
function init(args)
  local prefix, n = args[1] or "patch", tonumber(args[2] or "64")
  ids, etags, busy = {}, {}, {}
  for i = tid, n, 8 do -- up to 8 threads, each with every 8th record
    ids[#ids + 1] = prefix .. "-" .. i
  end
  cursor = 0
end
function request()
  for _ = 1, #ids do
    cursor = cursor % #ids + 1
    local id = ids[cursor]
    if not busy[id] then
      busy[id] = true
      if etags[id] then
        return wrk.format("PATCH", "/api/v1/animal/" .. id,
          {["Content-Type"] = "application/merge-patch+json", ["If-Match"] = etags[id],
           ["Authorization"] = wrk.headers["Authorization"]},
          '{"name":"Name ' .. math.random(1000000000) .. '"}')
      end
      return wrk.format("GET", "/api/v1/animal/" .. id)
    end
  end
  return wrk.format("GET", "/api/v1/_about") -- every record busy: more connections than records
end
function response(status, headers, body)
  local id = body:match('"id":"([^"]+)"') or body:match('animal \\"([^\\]+)\\"')
  if id then
    busy[id] = nil
    etags[id] = headers["Etag"] or headers["ETag"] or headers["etag"]
    if status == 412 then etags[id] = nil end -- read it again
  end
end
