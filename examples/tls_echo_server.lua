#!/usr/bin/env lua5.4
-- A TLS echo server: every byte a client sends comes back, encrypted
-- (lunasock.echo with tls, one loop task per connection, each doing its
-- own handshake). Given no certificate, it makes a throwaway self-signed
-- one for localhost, 127.0.0.1 and ::1 with the openssl command, in a
-- temporary directory removed at exit, and prints its path: clients
-- trust that file.
--
-- Usage: lua5.4 examples/tls_echo_server.lua [--port PORT] [--host HOST]
--                                            [--cert FILE --key FILE]
-- PORT 0 (the default) picks a free port. Once ready it prints
--   listening on HOST:PORT   (the first line, as every server prints it)
--   certificate: PATH        (only for a throwaway certificate)
-- and serves until interrupted (Ctrl-C, which also removes the throwaway
-- certificate). Try it with
--   echo hello | lunasock connect --tls --cacert PATH localhost PORT
--   openssl s_client -CAfile PATH -connect 127.0.0.1:PORT
local echo = require "lunasock.echo"
local loop = require "lunasock.loop"

local host, port, cert, key = "127.0.0.1", 0, nil, nil
local i = 1
while arg[i] do
  local a, v = arg[i], arg[i + 1]
  if a == "--port" and math.tointeger(tonumber(v)) then port = math.tointeger(tonumber(v))
  elseif a == "--host" and v then host = v
  elseif a == "--cert" and v then cert = v
  elseif a == "--key" and v then key = v
  else
    io.stderr:write("usage: tls_echo_server.lua [--port PORT] [--host HOST]",
                    " [--cert FILE --key FILE]\n")
    os.exit(2)
  end
  i = i + 2
end
if (cert == nil) ~= (key == nil) then
  io.stderr:write("tls_echo_server: --cert and --key go together\n")
  os.exit(2)
end

-- A self-signed ECDSA P-256 certificate valid for a day, made with the
-- openssl command. Returns the directory, the certificate and key paths.
local function throwaway_certificate()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 700 " .. dir))
  local ok = os.execute(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
    .. " -nodes -keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=localhost"
    .. " -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1 2>/dev/null"):format(dir, dir))
  if not ok then
    os.execute("rm -rf " .. dir)
    io.stderr:write("tls_echo_server: the openssl command failed (is it installed?)\n")
    os.exit(1)
  end
  return dir, dir .. "/cert.pem", dir .. "/key.pem"
end

local tmpdir
if not cert then
  tmpdir, cert, key = throwaway_certificate()
end
-- the throwaway directory goes when the program ends (a to-be-closed
-- value of the main chunk: run on error and on a normal end)
local _ <close> = setmetatable({}, {__close = function()
  if tmpdir then os.execute("rm -rf " .. tmpdir) end
end})

local server, err = echo.serve{host = host, port = port, tls = {cert = cert, key = key}}
if not server then
  io.stderr:write("tls_echo_server: ", tostring(err), "\n")
  os.exit(1)
end
if tmpdir then os.remove(key) end   -- loaded: the private key need not stay on disk
print(("listening on %s:%d"):format(server.host, server.port))
if tmpdir then print("certificate: " .. cert) end
io.stdout:flush()
loop.run()
