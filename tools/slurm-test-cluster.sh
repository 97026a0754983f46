#!/usr/bin/env bash
# Prove the SLURM profiles on a real SLURM: build a one-node cluster on this machine (munge,
# slurmctld, slurmd on 127.0.0.1 only, state in a scratch directory), run the tiny study with
# `--profile profiles/slurm` and one training run with `--profile profiles/slurm-gpu`, check
# that every job went through sbatch (two submissions per run; the light rules local) and that
# the results have the shape of a local run, and that the GPU job, given a GPU GRES with no
# device behind it, stops with the honest "TensorFlow sees no GPU" error instead of training
# on the CPU; then stop the daemons. Exit 0 on success, 1 on failure, 77 where it cannot run (not root,
# no apt-get and no SLURM, another SLURM config present).
#
#   tools/slurm-test-cluster.sh            # both profiles
#   tools/slurm-test-cluster.sh --cpu-only # profiles/slurm only
#
# Environment: SLURM_TEST_DIR (scratch, default a new /tmp/slurm-test.XXXXXX), SLURM_TEST_KEEP=1
# (keep it), SLURM_TEST_TIMEOUT (seconds for each snakemake run, default 1500),
# SLURM_TEST_CPUS (CPUs the node declares, default max(real, 8)), PYTHON (default .venv).
#
# Test-only settings, all on the command line or in the scratch slurm.conf, none in the
# profiles (what a real cluster has and this one-node cluster lacks):
# - no slurmdbd, so no `sacct`: `--slurm-status-command squeue`, and MinJobAge=3600 so that
#   finished jobs stay visible to squeue/scontrol for the status checks and the audit;
# - `--slurm-init-seconds-before-status-checks 5` (the default 40 s only slows a small run);
# - the profiles ask 4 CPUs per training job and the GPU profile a GPU: the node declares
#   SLURM_TEST_CPUS CPUs (SlurmdParameters=config_overrides lets slurmd accept more than the
#   machine has; no cgroups, so the jobs simply share the real cores) and one counted "gpu"
#   GRES backed by /dev/null (the GPU jobs are scheduled with a GPU and run on the CPU);
# - the plugin's job step strips SLURM_* variables (SLURM_CONF too) before its inner srun, so
#   the scratch slurm.conf is linked to /etc/slurm/slurm.conf for the duration of the test
#   (only if no SLURM config is there; the link is removed afterwards).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
TIMEOUT=${SLURM_TEST_TIMEOUT:-1500}
GPU_PHASE=1
[[ ${1:-} == --cpu-only ]] && GPU_PHASE=0

say() { printf '[slurm-test %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { say "FAIL: $*"; exit 1; }
skip() { say "SKIP: $*"; exit 77; }

[[ $(id -u) == 0 ]] || skip "needs root (apt-get, munged, slurmctld and slurmd as root)"
[[ -x $PYTHON ]] || skip "no Python at $PYTHON (make the venv first: make test)"
"$PYTHON" -c "import snakemake_executor_plugin_slurm" 2>/dev/null \
    || die "snakemake-executor-plugin-slurm missing from $PYTHON's environment (pip install -r requirements.lock)"

# --- 1. Packages -------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || skip "SLURM not installed and no apt-get to install it"
    say "installing slurm-wlm and munge (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; } \
        >/dev/null 2>&1 || die "apt-get install slurm-wlm munge failed"
fi
if [[ -L /etc/slurm/slurm.conf && ! -e /etc/slurm/slurm.conf ]]; then
    rm -f /etc/slurm/slurm.conf  # dangling link of an earlier test run that was killed
fi
if [[ -e /etc/slurm/slurm.conf ]]; then
    skip "/etc/slurm/slurm.conf exists (a SLURM of this machine, or a test cluster running): not touching it"
fi

# --- 2. Scratch directory and slurm.conf ---------------------------------------------------------
SCRATCH=${SLURM_TEST_DIR:-$(mktemp -d /tmp/slurm-test.XXXXXX)}
mkdir -p "$SCRATCH"/{etc,state,spool/slurmd,log,work}
SCRATCH=$(cd "$SCRATCH" && pwd)
export SLURM_CONF=$SCRATCH/etc/slurm.conf
STARTED_MUNGE=0
LINKED_CONF=0

stop_pidfile() {  # stop the daemon of a pid file: TERM, wait up to 20 s, KILL as a last resort
    local file=$1 pid
    [[ -s $file ]] || return 0
    pid=$(<"$file")
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    say "pid $pid ($file) ignored TERM: KILL"
    kill -KILL "$pid" 2>/dev/null
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -s $SCRATCH/state/slurmctld.pid ]] && kill -0 "$(<"$SCRATCH/state/slurmctld.pid")" 2>/dev/null; then
        scancel --user="$(id -un)" >/dev/null 2>&1  # jobs of this private cluster only
        for _ in $(seq 30); do
            [[ -z $(squeue -h -t RUNNING,PENDING,COMPLETING 2>/dev/null) ]] && break
            sleep 1
        done
    fi
    stop_pidfile "$SCRATCH/spool/slurmd.pid"
    stop_pidfile "$SCRATCH/state/slurmctld.pid"
    [[ $STARTED_MUNGE == 1 ]] && stop_pidfile /run/munge/munged.pid
    [[ $LINKED_CONF == 1 ]] && rm -f /etc/slurm/slurm.conf
    if [[ $rc == 0 && ${SLURM_TEST_KEEP:-0} != 1 ]]; then
        rm -rf "$SCRATCH"
    else
        say "scratch kept: $SCRATCH"
    fi
    say "daemons stopped; exit $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

HOST=$(hostname -s)
NODE=$(slurmd -C | head -1)  # NodeName=... CPUs=... RealMemory=... as this machine has them
real_cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$NODE")
real_mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE")
[[ -n $real_cpus && -n $real_mem ]] || die "cannot read CPUs/RealMemory from 'slurmd -C': $NODE"
CPUS=${SLURM_TEST_CPUS:-$((real_cpus > 8 ? real_cpus : 8))}
MEM=$((real_mem - 1024))  # leave the daemons and the snakemake process some memory
CTL_PORT=$(free_port)
D_PORT=$(free_port)

cat >"$SLURM_CONF" <<EOF
# One-node test cluster of tools/slurm-test-cluster.sh (machine: $NODE)
ClusterName=vaetest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SlurmctldPort=$CTL_PORT
SlurmdPort=$D_PORT
StateSaveLocation=$SCRATCH/state
SlurmdSpoolDir=$SCRATCH/spool/slurmd
SlurmctldPidFile=$SCRATCH/state/slurmctld.pid
SlurmdPidFile=$SCRATCH/spool/slurmd.pid
SlurmctldLogFile=$SCRATCH/log/slurmctld.log
SlurmdLogFile=$SCRATCH/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$SCRATCH/log/jobcomp.txt
MinJobAge=3600
KillWait=5
InactiveLimit=0
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=30
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
# A GPU GRES needs a device file; /dev/null stands in (slurmd drops file-less GPUs).
cat >"$SCRATCH/etc/gres.conf" <<EOF
AutoDetect=off
NodeName=$HOST Name=gpu File=/dev/null
EOF
mkdir -p /etc/slurm
ln -s "$SLURM_CONF" /etc/slurm/slurm.conf || die "cannot link /etc/slurm/slurm.conf"
LINKED_CONF=1
say "scratch $SCRATCH; node $HOST: $CPUS CPUs declared ($real_cpus real), ${MEM} MB, 1 counted gpu"

# --- 3. Daemons ------------------------------------------------------------------------------------
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    [[ -s /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create >/dev/null \
        || die "cannot create /etc/munge/munge.key"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged || die "munged did not start"
    STARTED_MUNGE=1
    for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
    munge -n | unmunge >/dev/null 2>&1 || die "munge does not work"
fi
slurmctld -i || die "slurmctld did not start: $(tail -5 "$SCRATCH/log/slurmctld.log" 2>/dev/null)"
for _ in $(seq 60); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.5; done
scontrol ping 2>/dev/null | grep -q UP || die "slurmctld not UP: $(tail -5 "$SCRATCH/log/slurmctld.log")"
slurmd || die "slurmd did not start: $(tail -5 "$SCRATCH/log/slurmd.log" 2>/dev/null)"
for _ in $(seq 60); do [[ $(sinfo -h -n "$HOST" -o %t 2>/dev/null) == idle ]] && break; sleep 0.5; done
[[ $(sinfo -h -n "$HOST" -o %t) == idle ]] \
    || die "node not idle: $(sinfo -h -N -o '%N %t %E'); $(tail -5 "$SCRATCH/log/slurmd.log")"
say "cluster up: $(sinfo -h -o '%P %D %t %c CPUs %m MB %G')"

# --- 4. The study through sbatch -------------------------------------------------------------------
# run_phase NAME PROFILE [TARGET]: dry-run for the plan, then the real run, both from a scratch
# working directory (the plugin's .snakemake/slurm_logs land there) with the tiny config.
run_phase() {
    local name=$1 profile=$2 target=${3:-}
    local out=$SCRATCH/$name
    mkdir -p "$out"
    cat >"$out/override.yaml" <<EOF
output_dir: $out/results
data:
  dir: $ROOT/resources/mnist
EOF
    local args=(--snakefile "$ROOT/Snakefile" --profile "$ROOT/profiles/$profile"
        --configfile "$ROOT/config/tiny.yaml" "$out/override.yaml"
        --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5
        --slurm-keep-successful-logs)
    [[ -n $target ]] && args+=("$target")
    (cd "$SCRATCH/work" && "$PYTHON" -m snakemake "${args[@]}" -n --quiet rules) >"$out/plan.txt" 2>&1 \
        || die "$name: dry-run failed: $(tail -20 "$out/plan.txt")"
    local first_id
    first_id=$(($(squeue -h -t all -o %i | sort -n | tail -1) + 1))
    say "$name: snakemake --profile profiles/$profile (log $out/snakemake.log)"
    local t0=$SECONDS rc=0
    (cd "$SCRATCH/work" && timeout -s INT -k 60 "$TIMEOUT" "$PYTHON" -m snakemake "${args[@]}") \
        >"$out/snakemake.log" 2>&1 || rc=$?
    [[ $rc == 124 ]] && { tail -40 "$out/snakemake.log"; die "$name: snakemake ran past ${TIMEOUT} s (timeout)"; }
    if [[ $name == gpu ]]; then
        # no real GPU behind the GRES: the job must be scheduled with one and then refuse to
        # train on the CPU (vaestudy.devices), so Snakemake fails
        [[ $rc != 0 ]] || die "$name: the GPU job ran without a GPU instead of stopping"
    elif [[ $rc != 0 ]]; then
        tail -40 "$out/snakemake.log"
        die "$name: snakemake exit $rc"
    fi
    say "$name: snakemake done in $((SECONDS - t0)) s (exit $rc)"
    scontrol show job -o >"$out/jobs.txt" 2>/dev/null
    "$PYTHON" - "$name" "$out" "$first_id" "$ROOT/config/tiny.yaml" "$target" <<'EOF' || die "$name: audit failed"
"""Audit one phase: every job went through sbatch and COMPLETED, with the resources the profile
asks for; the light rules ran locally (localrules), and each run cost at most two submissions
(train; evaluate + its pictures as one group job); results have the shape of a local run."""
import math, re, sys
from collections import Counter
from pathlib import Path

import pandas as pd
import yaml

name, out, first_id, tiny, target = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
grid = yaml.safe_load(Path(tiny).read_text())["study"]
n_runs = 1 if target else math.prod(len(grid[k]) for k in ("losses", "latent_dims", "seeds"))
LOCAL = {"prepare_data", "grid", "theory_check", "aggregate", "plots", "side_by_side", "report", "default"}

jobs = []
for line in (out / "jobs.txt").read_text().splitlines():
    f = dict(re.findall(r"(\w+)=(\S*)", line))
    if int(f.get("JobId", 0)) >= first_id:
        jobs.append(f)
# a rule's job: rule_<rule>_wildcards_...; a group job: rule_<group id>, e.g. rule_run_bce_2_0
kind_of = lambda j: "group" if j.get("Comment", "").startswith("rule_run_") else \
    re.match(r"rule_(.+?)(_wildcards_.*)?$", j.get("Comment", "")).group(1)
seen = Counter(kind_of(j) for j in jobs)
states = Counter(j["JobState"] for j in jobs)
errors = []
expected = {"train": n_runs, "train_classifier": 1, "group": n_runs}
if name == "gpu":  # one training run: its first try and the profile's one retry
    expected = {"train": 2}
if seen != Counter(expected):
    errors.append(f"sbatch jobs per rule {dict(seen)} != expected {expected}")
if LOCAL & set(seen):
    errors.append(f"local rules submitted: {sorted(LOCAL & set(seen))}")
if len(jobs) > 2 * n_runs + 1:
    errors.append(f"{len(jobs)} submissions for {n_runs} runs: more than two per run (+ classifier)")
if set(states) != ({"FAILED"} if name == "gpu" else {"COMPLETED"}):
    errors.append(f"job states {dict(states)}")
for j in jobs:  # TRES: what the job was given; TresPerJob: its --gpus request
    kind, tres, per_job = kind_of(j), j.get("TRES", ""), j.get("TresPerJob", "")
    gpu = "gres:gpu:1" in per_job
    want_gpu = name == "gpu"  # every submitted job runs a network (train, classifier, evaluate)
    if gpu != want_gpu:
        errors.append(f"job {j['JobId']} ({kind}): TresPerJob {per_job!r}, GPU expected: {want_gpu}")
    if kind == "train" and not re.search(r"cpu=4\b", tres):
        errors.append(f"job {j['JobId']} (train): TRES {tres}, 4 CPUs expected")
gpu_jobs = sum("gres:gpu:1" in j.get("TresPerJob", "") for j in jobs)
logs = list((out.parent / "work" / ".snakemake" / "slurm_logs").rglob("*.log"))

results = out / "results"
if not target:
    metrics = pd.read_csv(results / "metrics.csv")
    if len(metrics) != n_runs:
        errors.append(f"metrics.csv has {len(metrics)} rows, {n_runs} runs expected")
    if not metrics.test_neg_elbo.map(math.isfinite).all():
        errors.append("metrics.csv: non-finite test_neg_elbo")
    if (results / "report.html").stat().st_size < 10_000:
        errors.append("report.html too small")
else:
    log = (results / "logs/train/dataset~mnist/loss~bce/latent~2/seed~0.log").read_text()
    if "requests the resource gpu=1 but TensorFlow sees no GPU" not in log:
        errors.append("the GPU job's log does not say that TensorFlow sees no GPU")
    if Path(target).exists():
        errors.append(f"{target} was made without a GPU")
print(f"[audit {name}] {len(jobs)} SLURM jobs ({gpu_jobs} with a GPU), states {dict(states)}, "
      f"per rule {dict(seen)}; {len(logs)} SLURM log files kept so far")
if not target:
    print(f"[audit {name}] metrics.csv: {len(metrics)} rows = runs; report.html "
          f"{(results / 'report.html').stat().st_size} bytes")
for e in errors:
    print(f"[audit {name}] ERROR: {e}")
sys.exit(1 if errors else 0)
EOF
}

T0=$SECONDS
run_phase cpu slurm
if [[ $GPU_PHASE == 1 ]]; then
    run_phase gpu slurm-gpu "$SCRATCH/gpu/results/runs/dataset~mnist/loss~bce/latent~2/seed~0/history.csv"
fi
[[ -s $SCRATCH/log/jobcomp.txt ]] \
    && say "jobcomp: $(grep -c 'JobState=COMPLETED' "$SCRATCH/log/jobcomp.txt") jobs COMPLETED, $(grep -vc 'JobState=COMPLETED' "$SCRATCH/log/jobcomp.txt") other"
say "PASS: every job went through sbatch; the study completed with the shape of a local run; the GPU job got a GPU and refused the CPU ($((SECONDS - T0)) s)"
