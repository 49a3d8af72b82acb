-- wrk script: WRK_DEPTH (default 16) GET / requests written at once on
-- each connection, HTTP/1.1 pipelining in the TechEmpower "plaintext"
-- shape. wrk counts every response. Used by run.sh (HTTP_PIPELINE=16):
--   wrk -t1 -c50 -d3s -s bench/wrk_pipeline.lua http://127.0.0.1:PORT/
local depth = tonumber(os.getenv("WRK_DEPTH")) or 16
local batch

function init()
  local r = {}
  for i = 1, depth do r[i] = wrk.format("GET", "/") end
  batch = table.concat(r)
end

function request()
  return batch
end
