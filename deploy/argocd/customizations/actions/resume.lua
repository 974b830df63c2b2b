-- Argo CD action "resume" for fledge.dev/Canary: spec.suspend = false.
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.suspend = false
return obj
