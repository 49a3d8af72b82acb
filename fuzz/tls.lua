-- fuzz harness: lunasock.tls handshakes fed hostile bytes. The input
-- (after a first byte choosing the side) is what the peer sends, then
-- the peer half-closes: a server handshake reads it as a ClientHello and
-- what follows, a client handshake (not verifying) as the server's
-- flight. Invariants: tls.wrap never raises, returns nil, msg, code with
-- a TLS_* or errno code (a handshake cannot complete against bytes that
-- do not answer it), closes the socket it was given on failure, and
-- leaks no descriptor.
local core = require "lunasock.core"
local tls = require "lunasock.tls"
local F = require "fuzzlib"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -m 700 " .. dir))
assert(os.execute(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
  .. " -keyout %s/key.pem -out %s/cert.pem -days 2 -subj /CN=localhost >/dev/null 2>&1")
  :format(dir, dir)), "openssl req failed")
local server_ctx = assert(tls.context{mode = "server", cert = dir .. "/cert.pem",
                                      key = dir .. "/key.pem", alpn = {"http/1.1"}})
local client_ctx = assert(tls.context{mode = "client", verify = false})
os.execute("rm -rf '" .. dir .. "'")

return function(data)
  local server_side = (data:byte(1) or 0) % 2 == 0
  local bytes = data:sub(2)
  local a, b = assert(core.socketpair())
  a:settimeout(1)
  if #bytes > 0 then assert(a:send(bytes)) end
  a:shutdown("w")
  local opts = {timeout = 1}
  if not server_side then opts.servername = "localhost" end
  local t, msg, code = F.must_not_raise("tls.wrap", tls.wrap, b,
                                        server_side and server_ctx or client_ctx, opts)
  if t then
    t:close()   -- cannot happen without a real peer; closed all the same
  else
    F.check(type(msg) == "string" and type(code) == "string", "error triple")
    F.check(core.type(b) == "closed socket", "tls.wrap left the socket open on failure")
  end
  a:close()
  F.check_fds()
end
