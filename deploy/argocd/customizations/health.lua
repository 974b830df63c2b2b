-- Argo CD health check for fledge.dev/Canary, also used for flagger.app/Canary (same phases;
-- Flagger has no observedGeneration, no status.message and only the Promoted condition, and
-- every rule below copes with a missing field).
--
-- Argo CD runs scripts from argocd-cm without Lua's string, math and os libraries (only base,
-- table and package), so this uses operators and base functions only.
--
--   Healthy      phase Initialized or Succeeded (and Terminated: the Canary is going away)
--   Progressing  no status or phase yet, the controller has not seen the latest generation, or
--                an analysis is running (Initializing, Progressing, Promoting, Finalising,
--                Terminating)
--   Suspended    spec.suspend is true, paused by a pause request (status.paused), or waiting at
--                a gate (Waiting, WaitingPromotion)
--   Degraded     phase Failed, or Stalled=True with reason InvalidSpec
--   Unknown      a phase this script does not know

local function findCondition(status, ctype)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function nonEmpty(s)
  return s ~= nil and s ~= ""
end

-- The newest analysis record with verdict Fail, as one phrase.
local function lastFailedCheck(status)
  local history = status.analysisHistory
  if history == nil then
    return nil
  end
  for i = #history, 1, -1 do
    local r = history[i]
    if r.verdict == "Fail" then
      local s = (r.kind or "check") .. " " .. (r.name or "?")
      if r.value ~= nil then
        s = s .. " = " .. tostring(r.value)
      end
      if nonEmpty(r.threshold) then
        s = s .. " (wanted " .. r.threshold .. ")"
      end
      if nonEmpty(r.message) then
        s = s .. ": " .. r.message
      end
      return s
    end
  end
  return nil
end

-- What the controller last said: status.message (fledge), else the Ready or Promoted
-- condition's message (Flagger has only Promoted).
local function controllerMessage(status)
  if nonEmpty(status.message) then
    return status.message
  end
  for _, ctype in ipairs({ "Ready", "Promoted" }) do
    local c = findCondition(status, ctype)
    if c ~= nil and nonEmpty(c.message) then
      return c.message
    end
  end
  return nil
end

-- "<phase>, canary weight <n>%" plus ": <controller message>" when there is one.
local function describe(status, label)
  local weight = status.canaryWeight
  if weight == nil then
    weight = 0
  end
  local s = label .. ", canary weight " .. tostring(weight) .. "%"
  local msg = controllerMessage(status)
  if msg ~= nil then
    s = s .. ": " .. msg
  end
  return s
end

local spec = obj.spec or {}
local status = obj.status
local suspended = spec.suspend == true

if status == nil then
  if suspended then
    return { status = "Suspended", message = "suspended (spec.suspend) before the controller initialized it" }
  end
  return { status = "Progressing", message = "waiting for the controller to pick up the Canary" }
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  return {
    status = "Progressing",
    message = "waiting for the controller to observe generation " .. tostring(generation)
      .. " (it has seen " .. tostring(status.observedGeneration) .. ")",
  }
end

local stalled = findCondition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" and stalled.reason == "InvalidSpec" then
  return { status = "Degraded", message = "invalid spec: " .. (stalled.message or controllerMessage(status) or "see the Canary's events") }
end

local phase = status.phase

if phase == "Failed" then
  local label = "Failed"
  if stalled ~= nil and stalled.status == "True" and nonEmpty(stalled.reason) then
    label = "Failed (" .. stalled.reason .. ")"
  end
  local msg = describe(status, label)
  local check = lastFailedCheck(status)
  if check ~= nil then
    msg = msg .. "; last failed check: " .. check
  end
  return { status = "Degraded", message = msg }
end

if suspended then
  return { status = "Suspended", message = describe(status, "suspended (spec.suspend) in phase " .. (phase or "none yet")) }
end

if status.paused == true then
  return { status = "Suspended", message = describe(status, "paused by request in phase " .. (phase or "none yet")) }
end

if phase == nil then
  return { status = "Progressing", message = describe(status, "waiting for the controller to initialize the Canary") }
end

if phase == "Initialized" or phase == "Succeeded" then
  return { status = "Healthy", message = describe(status, phase) }
end

if phase == "Terminated" then
  return { status = "Healthy", message = describe(status, "Terminated (the Canary is being deleted)") }
end

if phase == "Waiting" or phase == "WaitingPromotion" then
  return { status = "Suspended", message = describe(status, phase .. " (waiting at a gate)") }
end

if phase == "Initializing" or phase == "Progressing" or phase == "Promoting"
    or phase == "Finalising" or phase == "Terminating" then
  return { status = "Progressing", message = describe(status, phase) }
end

return { status = "Unknown", message = describe(status, "unknown phase " .. tostring(phase)) }
