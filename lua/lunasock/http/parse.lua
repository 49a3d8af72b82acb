-- lunasock.http.parse: the names this module had before the HTTP layer
-- was split by concept, kept for code that uses them. Each is the one
-- implementation, from where it now lives:
--   parse.request(head[, opts])  lunasock.http.request.parse
--   parse.unescape, parse.query  lunasock.http.url.decode, url.query
--   parse.has_token, parse.Headers, parse.REASON  lunasock.http.h1
local request = require "lunasock.http.request"
local url = require "lunasock.http.url"
local h1 = require "lunasock.http.h1"

return {
  request = request.parse,
  unescape = url.decode,
  query = url.query,
  has_token = h1.has_token,
  Headers = h1.Headers,
  REASON = h1.REASON,
  METHODS = request.METHODS,
  MAX_REQUEST_LINE = request.MAX_REQUEST_LINE,
  MAX_HEADERS = request.MAX_HEADERS,
  MAX_BODY = request.MAX_BODY,
}
