-- Argo CD action discovery for fledge.dev/Canary: which actions the UI offers, enabled by phase
-- (the phases in which the controller carries a request out; see docs/state-machine.md).
local status = obj.status or {}
local phase = status.phase
local paused = status.paused == true

local analysing = phase == "Waiting" or phase == "Progressing" or phase == "WaitingPromotion"

-- Failed while promoting: the canary keeps serving (Stalled reason PromotionFailed, weight 100)
-- and promote promotes it directly.
local canaryServing = false
if phase == "Failed" then
  if status.canaryWeight == 100 then
    canaryServing = true
  end
  if status.conditions ~= nil then
    for _, c in ipairs(status.conditions) do
      if c.type == "Stalled" and c.status == "True" and c.reason == "PromotionFailed" then
        canaryServing = true
      end
    end
  end
end

local actions = {}
actions["promote"] = { ["disabled"] = not (analysing or canaryServing) }
actions["abort"] = { ["disabled"] = not analysing }
actions["retry"] = { ["disabled"] = phase ~= "Failed" }
-- Pause and resume are requests kept in status.paused; spec.suspend belongs to git.
actions["pause"] = { ["disabled"] = paused }
actions["resume"] = { ["disabled"] = not paused }
return actions
