#!/usr/bin/env bash
# The `demo-setup` service of docker-compose.yml (profile demo), run once the stack is up:
#   1. loads the connections demo-init generated (connections.json) into Airflow's metadata database;
#   2. waits until the DAG processor has parsed every vendor DAG, unpauses it and triggers a dry run, then its
#      first delivery (one run at a time: the dry run lets it go without approval, [aeries_hub]
#      approve_first_delivery), with the conf `make demo` uses (aeries_sandbox.demo.DEMO_RUNS: Xello's runs
#      ignore its weekend pull window).
# DEMO_TRIGGER_RUNS=false stops after step 1. Run with bash, so it needs no execute bit.
set -euo pipefail

secrets_dir="${DEMO_SECRETS_DIR:-/opt/airflow/demo-secrets}"
wait_seconds="${DEMO_DAG_WAIT_SECONDS:-600}"

echo "Importing the demo connections from ${secrets_dir}/connections.json"
airflow connections import --overwrite "${secrets_dir}/connections.json"

if [[ "${DEMO_TRIGGER_RUNS:-true}" != "true" ]]; then
    echo "DEMO_TRIGGER_RUNS is not true: no DAG is unpaused or triggered"
    exit 0
fi

mapfile -t runs < <(python -c '
import json
from aeries_sandbox.demo import DEMO_RUNS
for dag_id, conf in DEMO_RUNS.items():
    print(dag_id, json.dumps({**conf, "dry_run": True}, separators=(",", ":")), json.dumps(conf, separators=(",", ":")))
')

for run in "${runs[@]}"; do
    dag_id="${run%% *}"
    confs="${run#* }"
    dry_conf="${confs%% *}"
    conf="${confs#* }"
    waited=0
    until airflow dags details "${dag_id}" >/dev/null 2>&1 </dev/null; do
        if (( waited >= wait_seconds )); then
            echo "${dag_id} was not parsed within ${wait_seconds} s: see the import errors in the UI" >&2
            echo "(Browse > DAG Import Errors) and the airflow-dag-processor log" >&2
            exit 1
        fi
        sleep 10
        waited=$(( waited + 10 ))
    done
    airflow dags unpause "${dag_id}" </dev/null
    airflow dags trigger "${dag_id}" --conf "${dry_conf}" </dev/null
    airflow dags trigger "${dag_id}" --conf "${conf}" </dev/null
    echo "Triggered ${dag_id}: a dry run with conf ${dry_conf}, then its first delivery with conf ${conf}"
done

echo "Every vendor DAG is running: follow them at http://localhost:8080 (Dags, tag aeries)."
