-- The lunasock side of bench/tls.sh: lunasock.http serving GET / with
-- "hello world" and the files under ROOT, over TLS 1.3 with one cipher
-- suite (the one nginx is given), or in plaintext with CERT "-".
--
-- Usage: lua5.4 bench/servers/lunasock_https.lua PORT CERT KEY ROOT [SUITE]
-- Timeouts are long: the idle test holds connections that never send a
-- request.
local http = require "lunasock.http"
local loop = require "lunasock.loop"

local port, cert, key, root, suite = tonumber(arg[1]), arg[2], arg[3], arg[4], arg[5]
assert(port and cert and key and root, "usage: lunasock_https.lua PORT CERT KEY ROOT [SUITE]")

local tls
if cert ~= "-" then
  tls = {mode = "server", cert = cert, key = key, min_version = "tls1.3",
         ciphersuites = suite or "TLS_AES_128_GCM_SHA256"}
end

local static = http.static(root)
local app = http.router()
app:get("/", function() return 200, nil, "hello world" end)   -- as examples/http_server.lua
app:get("/*", static)

local server = assert(http.server{host = "127.0.0.1", port = port, handler = app, tls = tls,
                                  header_timeout = 300, idle_timeout = 300})
print(("listening on %s:%d"):format(server.host, server.port))
io.stdout:flush()
loop.run()
