-- Argo CD action "resume" for fledge.dev/Canary: a resume request, which clears status.paused.
-- A spec.suspend: true from git still holds the release; change it in git.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["fledge.dev/request"] = "resume@" .. os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
