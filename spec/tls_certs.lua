-- Test certificates for the TLS specs, made at test time with the openssl
-- command into a private temporary directory, once per busted run (every
-- spec file gets the same set; the directory goes when the run ends).
--
--   local certs = require("tls_certs").get()
--   certs.ca.cert                 -- the test CA (PEM path); trust it with
--                                 -- cafile = certs.ca.cert
--   certs.leaf.cert, .key         -- localhost, 127.0.0.1 and ::1, by the CA
--
-- Every entry is {cert = path, key = path} (keys unencrypted PEM unless
-- said otherwise). Leaves are ECDSA P-256 unless named _rsa (RSA-2048):
--   ca          the test CA (EC P-256), self-signed, CA:TRUE
--   ca_rsa      a second test CA with an RSA-2048 key (signs leaf_rsa2)
--   leaf        server cert: DNS:localhost, IP:127.0.0.1, IP:::1
--   leaf_rsa    the same names, RSA-2048 key, signed by ca
--   leaf_pw     leaf's names; key encrypted (AES-256) with password "secret"
--   expired     localhost/127.0.0.1, validity ended yesterday
--   other       DNS:other.test only (wrong name for localhost)
--   wildcard    DNS:*.example.test (matches a.example.test, not
--               example.test or a.b.example.test)
--   selfsigned  localhost/127.0.0.1, self-signed (untrusted)
--   untrusted   localhost/127.0.0.1, signed by a CA nobody trusts
--   nosan       CN=localhost and no subjectAltName (names only in the CN)
--   client      client cert (clientAuth), CN=lunasock test client, by ca
--   client_rsa  the same with an RSA-2048 key
--   client_untrusted  a client cert signed by the untrusted CA
-- certs.dir is the directory; certs.read(path) returns a file's text
-- (PEM text for the `ca`, `cert` and `key` options).
--
-- The openssl command runs without the sanitizer preload (helper.TOOL).
local helper = require "helper"

local M = {}

local KEY = "lunasock.spec.tls_certs"   -- registry slot: survives busted's
                                        -- per-file insulation of _G and
                                        -- package.loaded

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end
M.read = read

local EC = "-newkey ec -pkeyopt ec_paramgen_curve:P-256"
local RSA = "-newkey rsa:2048"

-- The shell script that makes everything in the current directory.
local function script()
  local lines = {
    "set -e",
    "exec 2>errors.log",
    -- extension files
    "printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,"
      .. "digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n"
      .. "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\n' > local.ext",
    "printf 'basicConstraints=critical,CA:FALSE\\nextendedKeyUsage=serverAuth\\n"
      .. "subjectAltName=DNS:other.test\\n' > other.ext",
    "printf 'basicConstraints=critical,CA:FALSE\\nextendedKeyUsage=serverAuth\\n"
      .. "subjectAltName=DNS:*.example.test\\n' > wildcard.ext",
    "printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,"
      .. "digitalSignature,keyEncipherment\\nextendedKeyUsage=clientAuth\\n' > client.ext",
    "printf 'basicConstraints=critical,CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > nosan.ext",
  }
  local function add(s) lines[#lines + 1] = s end
  local serial = 1
  local function ca(name, kind, cn)
    add(("openssl req -x509 %s -nodes -keyout %s.key -out %s.pem -days 30 "
         .. "-subj '/CN=%s' -addext basicConstraints=critical,CA:TRUE "
         .. "-addext keyUsage=critical,keyCertSign,cRLSign"):format(kind, name, name, cn))
  end
  -- leaf(name, keykind, cn, extfile, ca, days[, extra req args])
  local function leaf(name, kind, cn, ext, signer, days, extra)
    serial = serial + 1
    add(("openssl req -new %s -nodes -keyout %s.key -out %s.csr -subj '/CN=%s' %s")
        :format(kind, name, name, cn, extra or ""))
    add(("openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -set_serial %d "
         .. "-days %d -extfile %s.ext -out %s.pem"):format(name, signer, signer,
                                                           serial, days, ext, name))
  end
  ca("ca", EC, "lunasock test CA")
  ca("ca_rsa", RSA, "lunasock test RSA CA")
  ca("evil_ca", EC, "lunasock untrusted CA")
  leaf("leaf", EC, "localhost", "local", "ca", 30)
  leaf("leaf_rsa", RSA, "localhost", "local", "ca", 30)
  leaf("leaf_rsa2", RSA, "localhost", "local", "ca_rsa", 30)
  leaf("expired", EC, "localhost", "local", "ca", -1)   -- notAfter: yesterday
  leaf("other", EC, "other.test", "other", "ca", 30)
  leaf("wildcard", EC, "*.example.test", "wildcard", "ca", 30)
  leaf("untrusted", EC, "localhost", "local", "evil_ca", 30)
  leaf("nosan", EC, "localhost", "nosan", "ca", 30)
  leaf("client", EC, "lunasock test client", "client", "ca", 30)
  leaf("client_rsa", RSA, "lunasock test client", "client", "ca", 30)
  leaf("client_untrusted", EC, "lunasock untrusted client", "client", "evil_ca", 30)
  add("openssl req -x509 " .. EC .. " -nodes -keyout selfsigned.key -out selfsigned.pem "
      .. "-days 30 -subj '/CN=localhost' -addext subjectAltName=DNS:localhost,IP:127.0.0.1")
  add("cp leaf.pem leaf_pw.pem")
  add("openssl pkey -in leaf.key -aes256 -passout pass:secret -out leaf_pw.key")
  add("rm -f *.csr *.srl")
  add("echo done > ok")
  return table.concat(lines, "\n") .. "\n"
end

local NAMES = {"ca", "ca_rsa", "leaf", "leaf_rsa", "leaf_rsa2", "leaf_pw", "expired",
               "other", "wildcard", "selfsigned", "untrusted", "nosan", "client",
               "client_rsa", "client_untrusted"}

local function make()
  local dir = helper.tmpdir()
  local path = dir .. "/make.sh"
  local f = assert(io.open(path, "w"))
  f:write(script())
  f:close()
  local ok = os.execute(("cd '%s' && %ssh make.sh"):format(dir, helper.TOOL))
  if not ok then
    local log = io.open(dir .. "/errors.log")
    local text = log and log:read("a") or "?"
    if log then log:close() end
    helper.rmdir(dir)
    error("tls_certs: openssl failed:\n" .. text)
  end
  local set = {dir = dir, read = read}
  for _, name in ipairs(NAMES) do
    set[name] = {cert = dir .. "/" .. name .. ".pem", key = dir .. "/" .. name .. ".key"}
  end
  set.leaf_pw.password = "secret"
  set.leaf_rsa2.ca = set.ca_rsa.cert
  -- removes the directory when the Lua state closes (end of the run)
  set.cleanup = setmetatable({}, {__gc = function() helper.rmdir(dir) end})
  return set
end

-- certs.get() -> the set, made on first use in this process.
function M.get()
  local reg = debug.getregistry()
  local set = reg[KEY]
  local ok = set and io.open(set.dir .. "/ok")
  if ok then ok:close() end
  if not ok then
    set = make()
    reg[KEY] = set
  end
  return set
end

return M
