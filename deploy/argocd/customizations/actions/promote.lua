-- Argo CD action "promote" for fledge.dev/Canary: the manual request annotation, with a UTC
-- timestamp as the nonce so that each request is new (the same contract as kubectl fledge).
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["fledge.dev/request"] = "promote@" .. os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
