-- Argo CD action "pause" for fledge.dev/Canary: spec.suspend = true (nothing moves until resume).
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.suspend = true
return obj
