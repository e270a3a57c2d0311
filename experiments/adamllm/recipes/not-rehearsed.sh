#!/usr/bin/env bash
# A stage the rehearsal profile cannot run on this machine, saying so with why (exit 69).
#   not-rehearsed.sh STAGE WHY
echo "not rehearsed: $1 cannot run on a CPU: $2. It runs in the paper profile, on GPUs." >&2
exit 69
