#!/usr/bin/env bash
# Wait until the Rollout's newest revision is promoted, or fail as soon as it cannot be:
#   exit 0  the new pod template is the stable one and the Rollout is Healthy;
#   exit 1  Argo Rollouts aborted it (Degraded: the stable version serves everything again), or time ran out;
#   exit 3  an analysis was inconclusive (no traffic to judge by): paused for a person to promote or abort.
# It first waits for the controller to see the new spec (status.observedGeneration), so the Healthy phase of
# the revision before cannot pass for this one. `make deploy` runs it; tests/cluster/test_canary.py proves it.
#   usage: deploy/wait-for-rollout.sh NAMESPACE NAME [TIMEOUT like 45m, 90s]
#   KUBECTL overrides kubectl; ROLLOUT_POLL_SECONDS (default 5) is how often it looks.
set -euo pipefail
namespace=$1
name=$2
timeout=${3:-45m}
kubectl=${KUBECTL:-kubectl}

case $timeout in
  *h) seconds=$((${timeout%h} * 3600)) ;;
  *m) seconds=$((${timeout%m} * 60)) ;;
  *s) seconds=${timeout%s} ;;
  *) seconds=$timeout ;;
esac
deadline=$(($(date +%s) + seconds))
generation=$("$kubectl" -n "$namespace" get "rollout/$name" -o jsonpath='{.metadata.generation}')
fields='{.status.observedGeneration}|{.status.phase}|{.status.stableRS}|{.status.currentPodHash}|{.status.abort}|{.status.pauseConditions[*].reason}|{.status.message}'

while true; do
  IFS='|' read -r observed phase stable current aborted paused message \
    < <("$kubectl" -n "$namespace" get "rollout/$name" -o "jsonpath=$fields" && echo)
  if [ "$observed" = "$generation" ]; then
    if [ "$aborted" = true ] || [ "$phase" = Degraded ]; then
      echo "rollout/$name was aborted (the stable version serves again): $message" >&2
      exit 1
    fi
    if [[ " $paused " == *" InconclusiveAnalysisRun "* ]]; then
      echo "rollout/$name is paused: its analysis was inconclusive (no traffic?); promote or abort it" >&2
      exit 3
    fi
    if [ "$phase" = Healthy ] && [ -n "$current" ] && [ "$stable" = "$current" ]; then
      echo "rollout/$name: revision $current promoted"
      exit 0
    fi
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "rollout/$name: not promoted within $timeout (phase ${phase:-unknown}: $message)" >&2
    exit 1
  fi
  sleep "${ROLLOUT_POLL_SECONDS:-5}"
done
