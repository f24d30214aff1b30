-- Argo CD health of a posthog-operator ClusterPostHogConnection (docs/gitops.md):
-- the same status as a PostHogConnection's, on a cluster-scoped object.
-- The status is kstatus-compliant (Ready, Reconciling and Stalled conditions,
-- status.observedGeneration); a Synced condition reports checks against
-- PostHog and pause. Runs without Argo CD's open libraries: base and table
-- functions only.
local hs = {}

local function condition(conditionType)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function nonEmpty(text)
  return text ~= nil and text ~= ""
end

-- Paused first: a paused connection (which pauses every reference using it,
-- in every namespace it allows) is Suspended whatever else its status says. The message is Ready's when the
-- pause keeps the current spec from being checked against PostHog
-- (Ready=False reason Paused: a connection created or edited while paused),
-- else Synced's.
local synced = condition("Synced")
local ready = condition("Ready")
local pausedBySync = synced ~= nil and synced.status == "False" and synced.reason == "Paused"
local annotations = obj.metadata.annotations
local pausedByAnnotation = annotations ~= nil and annotations["iam.posthog-operator.io/paused"] == "true"
if pausedBySync or pausedByAnnotation then
  hs.status = "Suspended"
  if ready ~= nil and ready.status == "False" and ready.reason == "Paused" and nonEmpty(ready.message) then
    hs.message = ready.message
  elseif pausedBySync and nonEmpty(synced.message) then
    hs.message = synced.message
  else
    hs.message = "Paused by the iam.posthog-operator.io/paused annotation"
  end
  return hs
end

-- Stalled: the operator makes no progress until a person changes something.
local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  if nonEmpty(stalled.message) then
    hs.message = stalled.message
  else
    hs.message = stalled.reason
  end
  return hs
end

-- Ready: PostHog accepts the connection's key for its organization, as
-- checked for the current generation. A Ready condition written for an older
-- generation does not count.
if ready ~= nil and ready.status == "True" then
  local generation = tonumber(obj.metadata.generation)
  local observed = tonumber(ready.observedGeneration)
  if observed == nil or generation == nil or observed == generation then
    hs.status = "Healthy"
    hs.message = ready.message
    return hs
  end
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation) ..
    " (Ready describes generation " .. tostring(observed) .. ")"
  return hs
end

-- Anything else is a wait that ends by itself: the API key Secret not there
-- yet, PostHog throttling or unavailable.
hs.status = "Progressing"
if ready ~= nil and nonEmpty(ready.message) then
  hs.message = ready.message
else
  hs.message = "Waiting for the operator"
end
return hs
