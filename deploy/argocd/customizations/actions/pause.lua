-- Argo CD action "pause" for fledge.dev/Canary: a pause request (the same contract as kubectl
-- fledge), with a UTC timestamp as the nonce. The controller keeps it in status.paused, so the
-- next sync of the Canary from git does not undo it (a spec.suspend patch would be reverted).
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["fledge.dev/request"] = "pause@" .. os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
