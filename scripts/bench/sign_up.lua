-- Sign-ups with a password, each a new address, from new native clients.
local counter = 0
local id = 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local body = "email_address=su" .. id .. "x" .. counter .. "%40bench.example.com&password=correct+horse+battery+staple"
  return wrk.format("POST", "/v1/client/sign_ups?_is_native=1",
    { ["content-type"] = "application/x-www-form-urlencoded" }, body)
end
