-- wrk script for Benchmarks/http-refresh.sh: every request spends one refresh token once and
-- queues the successor it gets back, so each request is a real rotation (no reuse, no 401).
-- Arguments after `--`: the token file (one refresh token a line) and the thread count.

local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local tokens = {}
local failures = 0

function init(args)
  local path, threads = args[1], tonumber(args[2])
  local index = 0
  for line in io.lines(path) do
    if index % threads == id then table.insert(tokens, line) end
    index = index + 1
  end
end

function request()
  local token = table.remove(tokens, 1)
  return wrk.format("POST", "/api/v1/auth/refresh", { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local successor = body:match('"refresh_token":"([^"]+)"')
  if successor then
    table.insert(tokens, successor)
  else
    failures = failures + 1
    if failures <= 3 then io.stderr:write("refresh answered " .. status .. ": " .. body .. "\n") end
  end
end
