#!/usr/bin/env lua5.4
-- Fetches an https:// URL with lunasock.http.client, verified as a
-- browser would (the system's CA store, or --cacert; the certificate must
-- be for the URL's host), and prints who answered and how, then the body.
-- Nothing goes out in plaintext: a failed check is an error with its
-- code (TLS_VERIFY, TLS_HOSTNAME, ...).
--
-- Usage: lua5.4 examples/https_get.lua [URL] [--cacert FILE] [--insecure]
--                                      [--timeout SECONDS]
--   With no URL it starts a tiny HTTPS server in this process, on
--   127.0.0.1 and a free port (printed as "listening on HOST:PORT"),
--   with a throwaway self-signed certificate made by the openssl
--   command, and fetches "/" from it twice, trusting that certificate:
--   the second request reuses the connection.
-- Exits 0 when a response came (whatever its status), 1 on an error.
local client = require "lunasock.http.client"
local loop = require "lunasock.loop"

local target, cacert, insecure, timeout = nil, nil, false, 30
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--cacert" and arg[i + 1] then
    cacert, i = arg[i + 1], i + 1
  elseif a == "--insecure" or a == "-k" then
    insecure = true
  elseif a == "--timeout" and tonumber(arg[i + 1]) then
    timeout, i = tonumber(arg[i + 1]), i + 1
  elseif a:sub(1, 1) ~= "-" and not target then
    target = a
  else
    io.stderr:write("usage: https_get.lua [URL] [--cacert FILE] [--insecure]",
                    " [--timeout SECONDS]\n")
    os.exit(2)
  end
  i = i + 1
end

-- The TLS settings for the request: nil means the defaults (verified
-- against the system's CA store).
local function tls_settings()
  if insecure then
    io.stderr:write("https_get: warning: --insecure: nothing is checked\n")
    return {verify = false}
  end
  if cacert then return {cafile = cacert} end
end

-- Fetches u and prints the TLS details and the body. true, or nil, msg.
local function fetch(pool, u)
  local r, err, code = client.get(u, {timeout = timeout, pool = pool})
  if not r then return nil, ("%s (%s)"):format(err, code) end
  local t = r.tls
  if t then
    local peer = t.peer or {}
    print(("%s %s, %s, peer %s, verified: %s, session reused: %s"):format(
      r.url, t.version, t.cipher, tostring(peer.subject), tostring(t.verified),
      tostring(t.session_reused)))
  end
  print(r.status, r.reason)
  io.stdout:write(r.body)
  io.stdout:flush()
  return true
end

-- A self-signed certificate for 127.0.0.1 in a new directory: its
-- directory, certificate and key paths.
local function throwaway_certificate()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 700 " .. dir))
  assert(os.execute(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
    .. " -nodes -keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=localhost"
    .. " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null"):format(dir, dir)),
    "the openssl command failed")
  return dir, dir .. "/cert.pem", dir .. "/key.pem"
end

local ok, err
if target then
  local pool <close> = client.pool{tls = tls_settings()}
  ok, err = fetch(pool, target)
else
  local http = require "lunasock.http"
  local dir, cert, key = throwaway_certificate()
  local _ <close> = setmetatable({}, {__close = function() os.execute("rm -rf " .. dir) end})
  cacert = cacert or cert
  local pool <close> = client.pool{tls = tls_settings()}
  loop.run(function()
    local srv = assert(http.server{host = "127.0.0.1", port = 0, tls = {cert = cert, key = key},
                                   handler = function(req)
      return 200, {["Content-Type"] = "text/plain"}, "hello over TLS, " .. req.path .. "\n"
    end})
    print(("listening on %s:%d"):format(srv.host, srv.port))
    local u = ("https://127.0.0.1:%d/"):format(srv.port)
    ok, err = fetch(pool, u)
    if ok then ok, err = fetch(pool, u .. "again") end
    pool:close()
    srv:close()
  end)
end
if not ok then
  io.stderr:write("https_get: ", tostring(err), "\n")
  os.exit(1)
end
