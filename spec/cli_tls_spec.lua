-- bin/lunasock's TLS options, run as a user would (lua5.4 bin/lunasock
-- under timeout(1)): connect --tls against lunasock and openssl
-- s_server peers, the servers' --tls-cert/--tls-key against lunasock's
-- client, and the README's "Talk TLS" session as written. `get https://`
-- against nginx is in https_client_spec.lua.
local helper = require "helper"
local lunasock = require "lunasock"
local tls_certs = require "tls_certs"
local peers = require "tls_peers"

local TIMEOUT = helper.TIMEOUT

local function run(fn)
  return helper.run_task(fn, TIMEOUT * 4)
end

-- Starts `lunasock ARGS...` as a server (helper.cli_server): returns the
-- process, host and port; helper.cli_interrupt ends it (SIGINT).
local function start_server(args)
  return helper.cli_server(args, {limit = math.floor(TIMEOUT * 4)})
end

local certs
setup(function() certs = tls_certs.get() end)

describe("lunasock connect --tls", function()
  local function upper(st)
    for line in st:lines() do
      st:write(line:upper(), "\n")
      st:flush()
    end
  end

  it("talks to a verified server, and says who it is with -v", function()
    run(function()
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, upper, {
        tls = {cert = certs.leaf.cert, key = certs.leaf.key}}))
      local ok, out, err = peers.cli({"connect", "--tls", "--cacert", certs.ca.cert, "-v",
                                      "localhost", tostring(srv.port)}, "one\ntwo\n")
      assert.is_true(ok, err)
      assert.are.equal("ONE\nTWO\n", out)
      assert.matches("TLSv1%.3", err)
      assert.matches("verified", err)
      assert.matches("CN=localhost", err)
    end)
  end)

  it("refuses an untrusted server and a wrong name before sending anything", function()
    run(function()
      local got = false
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
        if st:readline() then got = true end
      end, {tls = {cert = certs.other.cert, key = certs.other.key}}))
      local port = tostring(srv.port)
      local ok, out, err = peers.cli({"connect", "--tls", "localhost", port}, "secret\n")
      assert.is_false(ok)
      assert.are.equal("", out)
      assert.matches("certificate.*%(TLS_VERIFY%)", err)
      ok, out, err = peers.cli({"connect", "--tls", "--cacert", certs.ca.cert,
                                "localhost", port}, "secret\n")
      assert.is_false(ok)
      assert.are.equal("", out)
      assert.matches("%(TLS_HOSTNAME%)", err)
      -- the name the certificate is for, given with --servername
      ok, out, err = peers.cli({"connect", "--tls", "--cacert", certs.ca.cert,
                                "--servername", "other.test", "127.0.0.1", port}, "")
      assert.is_true(ok, err)
      assert.are.equal("", out)
      assert.is_false(got)
    end)
  end)

  it("connects with -k to anything, with a warning", function()
    run(function()
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, upper, {
        tls = {cert = certs.selfsigned.cert, key = certs.selfsigned.key}}))
      local ok, out, err = peers.cli({"connect", "--tls", "-k", "127.0.0.1",
                                      tostring(srv.port)}, "x\n")
      assert.is_true(ok, err)
      assert.are.equal("X\n", out)
      assert.matches("warning: %-%-insecure", err)
    end)
  end)

  it("talks to openssl s_server", function()
    if not peers.have("openssl") then return pending("openssl is not installed") end
    local dir = helper.tmpdir()
    local port = peers.free_port()
    -- s_server -rev answers each line reversed
    local pid, proc = peers.spawn(("%sopenssl s_server -quiet -rev -accept 127.0.0.1:%d "
      .. "-cert %s -key %s"):format(helper.TOOL, port, certs.leaf.cert, certs.leaf.key))
    local ok, err = pcall(function()
      run(function()
        assert(peers.wait_listening(port, pid))
        local cok, out, cerr = peers.cli({"connect", "--tls", "--cacert", certs.ca.cert,
                                          "--wait", "1", "localhost", tostring(port)},
                                         "hello\n")
        assert.is_true(cok, cerr)
        assert.matches("olleh", out)
      end)
    end)
    peers.stop(pid, proc)
    helper.rmdir(dir)
    assert(ok, err)
  end)

  it("rejects TLS options without --tls, and --tls with --udp", function()
    local ok, _, err = peers.cli{"connect", "--cacert", "x", "localhost", "1"}
    assert.is_false(ok)
    assert.matches("go with %-%-tls", err)
    ok, _, err = peers.cli{"connect", "--tls", "--udp", "localhost", "1"}
    assert.is_false(ok)
    assert.matches("exclude", err)
  end)
end)

describe("lunasock servers with --tls-cert and --tls-key", function()
  for _, which in ipairs{"echo", "chat", "http"} do
    it(which .. " serves TLS", function()
      local proc, host, port = start_server{which, "--port", "0",
                                            "--tls-cert", certs.leaf.cert,
                                            "--tls-key", certs.leaf.key}
      local ok, err = pcall(function()
        local s <close> = assert(lunasock.tcp.connect(host, port, {
          tls = {cafile = certs.ca.cert}, servername = "localhost", timeout = TIMEOUT}))
        assert.is_true(s:info().verified)
        if which == "http" then
          assert(s:send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
          assert.matches("^HTTP/1%.1 ", s:recv(100))
        elseif which == "echo" then
          assert(s:send("ping"))
          assert.are.equal("ping", s:recv(4))
        else
          assert.is_truthy(#s:recv(100) > 0)     -- the room asks for a nickname
        end
      end)
      helper.cli_interrupt(proc)
      assert(ok, err)
    end)
  end

  it("need each other, and report a key that does not load", function()
    local ok, _, err = peers.cli{"echo", "--tls-cert", certs.leaf.cert}
    assert.is_false(ok)
    assert.matches("go together", err)
    -- each server names the code, as get and connect do (they did not)
    for _, server in ipairs{"echo", "chat", "http"} do
      ok, _, err = peers.cli{server, "--port", "0", "--tls-cert", certs.leaf.cert, "--tls-key",
                             certs.dir .. "/missing.key"}
      assert.is_false(ok)
      assert.matches("key", err)
      assert.matches("(TLS_CONFIG)", err, 1, true)
    end
  end)
end)

describe("README.md 'Talk TLS'", function()
  it("runs the session shown", function()
    local readme = assert(peers.read_file("README.md"))
    local at = assert(readme:find("\n## Talk TLS\n", 1, true), "no section Talk TLS")
    local doc = readme:sub(at, (readme:find("\n## ", at + 1, true) or #readme))
    local session = assert(doc:match("```sh\n(.-)```"), "no shell session")
    local mk = assert(session:match("%$ (openssl req .-)\n%$"), "no openssl command")
    local dir = helper.tmpdir()
    local ok, err = pcall(function()
      assert(os.execute(("cd %s && %s%s"):format(dir, helper.TOOL, mk:gsub("\\\n", " "))))
      local serve = assert(session:match("%$ lunasock (http [^\n&]-) &\n"))
      local args = {}
      for w in serve:gmatch("%S+") do args[#args + 1] = w end
      for i, w in ipairs(args) do
        if w == "8443" then args[i] = "0" end
        if w == "." then args[i] = dir end
        if w:match("%.pem$") then args[i] = dir .. "/" .. w end
      end
      local proc, _, port = start_server(args)
      local gok, out, gerr = peers.cli{"get", "--cacert", dir .. "/cert.pem",
                                       ("https://localhost:%d/cert.pem"):format(port)}
      local first = session:match("| head %-1\n([^\n]*)\n")
      local bad = session:match("%$ lunasock get https://[^\n]*\n([^\n]*)\n")
      local bok, _, berr = peers.cli{"get", ("https://localhost:%d/cert.pem"):format(port)}
      helper.cli_interrupt(proc)
      assert.is_true(gok, gerr)
      assert.are.equal(first, out:match("^[^\n]*"))
      assert.is_false(bok)
      assert.matches(bad:match("%((TLS_%u+)%)$"), berr)
    end)
    helper.rmdir(dir)
    assert(ok, err)
  end)
end)
