#!/usr/bin/env bash
# A private single-node Slurm cluster (munged + slurmctld + slurmd, no database) in one directory,
# for the tests and for trying `--runner slurm` on one machine. Needs root (Debian/Ubuntu); installs
# the Debian packages when missing. Nothing is written outside DIR; no systemd, no cgroups.
#
#   scripts/slurm-cluster.sh start DIR [--gpus N]   start it; prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm-cluster.sh stop DIR               cancel its jobs, stop the daemons, remove DIR
#   scripts/slurm-cluster.sh run [--gpus N] -- CMD  start one in a temporary directory, run CMD with
#                                                   SLURM_CONF exported, stop it; exits with CMD's status
#
# --gpus N gives the node N fake GPUs (file-backed gres: Slurm counts and allocates them, sets
# SLURM_GPUS_ON_NODE, but no CUDA_VISIBLE_DEVICES). SLURM_CLUSTER_PORT (default 6817) picks the
# controller port (slurmd uses the next one) so two clusters can run at once; SLURM_CLUSTER_MAX_TIME
# (default 1-00:00:00) is the partition's time limit.
# Accounting: jobcomp/filetxt only (`sacct -c`); plain `sacct` says accounting is disabled.
set -euo pipefail
say() { echo "slurm-cluster: $*" >&2; }

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
     && command -v munged >/dev/null; then return; fi
  [ "$(id -u)" -eq 0 ] || { say "error: installing slurm needs root (apt-get install slurmctld slurmd slurm-client munge)"; exit 69; }
  say "installing slurmctld slurmd slurm-client munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
}

start() {  # start DIR GPUS
  local dir=$1 gpus=$2
  [ "$(id -u)" -eq 0 ] || { say "error: the daemons run as root here (SlurmUser=root); run as root"; exit 77; }
  install_packages
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 755 "$dir"                        # munged needs o+x on every directory above its socket
  mkdir -p "$dir"/{run,state,spool,log,munge}
  chmod 700 "$dir/munge"
  mungekey -c -k "$dir/munge/munge.key"
  local port=${SLURM_CLUSTER_PORT:-6817}
  local cpus mem
  cpus=$(nproc)
  mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  local gres_types="" node_gres=""
  if [ "$gpus" -gt 0 ]; then
    for ((i = 0; i < gpus; i++)); do : > "$dir/fakegpu$i"; done
    echo "Name=gpu File=$dir/fakegpu[0-$((gpus - 1))]" > "$dir/gres.conf"
    gres_types="GresTypes=gpu"
    node_gres="Gres=gpu:$gpus"
  fi
  cat > "$dir/slurm.conf" <<EOF
ClusterName=workbench
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/run/munge.sock
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
DependencyParameters=kill_invalid_depend
EnforcePartLimits=ALL
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
$gres_types
NodeName=localhost CPUs=$cpus RealMemory=$mem $node_gres State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=${SLURM_CLUSTER_MAX_TIME:-1-00:00:00} State=UP
EOF
  export SLURM_CONF="$dir/slurm.conf"
  # Foreground daemons in their own sessions (setsid), output to files so nothing holds our pipes.
  setsid munged -F --key-file="$dir/munge/munge.key" --socket="$dir/run/munge.sock" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
    </dev/null >>"$dir/log/munged.out" 2>&1 &
  echo $! > "$dir/run/munged.ppid"
  for _ in $(seq 100); do [ -S "$dir/run/munge.sock" ] && break; sleep 0.05; done
  [ -S "$dir/run/munge.sock" ] || { say "error: munged did not start (see $dir/log/munged.log)"; exit 1; }
  setsid slurmctld -D -f "$SLURM_CONF" </dev/null >>"$dir/log/slurmctld.out" 2>&1 &
  echo $! > "$dir/run/slurmctld.ppid"
  setsid slurmd -D -N localhost -f "$SLURM_CONF" </dev/null >>"$dir/log/slurmd.out" 2>&1 &
  echo $! > "$dir/run/slurmd.ppid"
  local state=""
  for _ in $(seq 300); do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.1
  done
  if [ "$state" != idle ]; then
    say "error: the node did not become idle (state '$state'); logs in $dir/log"
    tail -n 5 "$dir"/log/*.log >&2 || true
    stop "$dir"
    exit 1
  fi
  say "up: 1 node, $cpus CPUs, $mem MB, $gpus fake GPU(s), controller port $port, directory $dir"
  echo "export SLURM_CONF=$dir/slurm.conf"
}

stop() {  # stop DIR
  local dir=$1
  [ -f "$dir/slurm.conf" ] || { say "no cluster in $dir"; return 0; }
  export SLURM_CONF="$dir/slurm.conf"
  set +e
  # Jobs outlive slurmd: cancel them first and wait until the queue is empty.
  local ids
  ids=$(squeue -h -o %i 2>/dev/null)
  if [ -n "$ids" ]; then
    scancel $ids 2>/dev/null
    for _ in $(seq 100); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  for d in slurmd slurmctld munged; do
    local pid
    pid=$(cat "$dir/run/$d.ppid" 2>/dev/null)
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  set -e
  rm -rf "$dir"
}

gpus=0
cmd=${1:-}; shift || true
case "$cmd" in
  start)
    [ $# -ge 1 ] || { say "usage: $0 start DIR [--gpus N]"; exit 64; }
    dir=$1; shift
    [ "${1:-}" = --gpus ] && { gpus=${2:?--gpus needs a number}; shift 2; }
    start "$dir" "$gpus" ;;
  stop)
    [ $# -ge 1 ] || { say "usage: $0 stop DIR"; exit 64; }
    stop "$1" ;;
  run)
    [ "${1:-}" = --gpus ] && { gpus=${2:?--gpus needs a number}; shift 2; }
    [ "${1:-}" = -- ] && shift
    [ $# -ge 1 ] || { say "usage: $0 run [--gpus N] -- COMMAND..."; exit 64; }
    dir=$(mktemp -d /tmp/wb-slurm.XXXXXX)
    trap 'stop "$dir"' EXIT
    trap 'exit 130' INT TERM
    start "$dir" "$gpus" >/dev/null
    export SLURM_CONF="$dir/slurm.conf"
    set +e
    "$@"
    rc=$?
    set -e
    exit $rc ;;
  *)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 64 ;;
esac
