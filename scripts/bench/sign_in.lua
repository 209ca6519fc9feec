-- Password sign-ins, each from a new native client, over BENCH_USERS prepared users
-- (bench<N>+clerk_test@example.com), round robin; with 1, every connection signs the same user
-- in at once.
local users = tonumber(os.getenv("BENCH_USERS"))
local counter = 0
local id = 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local n = (counter * 7 + id) % users
  local body = "identifier=bench" .. n .. "%2Bclerk_test%40example.com&password=correct+horse+battery+staple"
  return wrk.format("POST", "/v1/client/sign_ins?_is_native=1",
    { ["content-type"] = "application/x-www-form-urlencoded" }, body)
end
