package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require("common")
local prefix = os.getenv("BENCH_PREFIX")
local headers = {["Accept"] = "application/fhir+json"}
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then headers["Authorization"] = "Bearer " .. token end
request = function()
  return wrk.format("GET", prefix .. random_id(), headers)
end
