-- GET records at random among the N that "seed ndjson N" made: mostly not
-- in the record cache, so each is a read of the database (wrk ... -- N).
function init(args)
  n = tonumber(args[1] or "1000")
  math.randomseed(os.time())
end
function request()
  local i = math.random(0, n - 1)
  return wrk.format("GET", string.format("/api/v1/animal/%07d-%07d", i * 7919 % 1000003, i))
end
