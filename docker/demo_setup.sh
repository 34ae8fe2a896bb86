#!/usr/bin/env bash
# The `demo-setup` service of docker-compose.yml (profile demo), run at each start of the stack:
#   1. loads the connections demo-init generated (connections.json) that Airflow's metadata database does not
#      have yet: a connection an operator edited in Admin > Connections is kept as it is (delete it there to
#      get the demo's again);
#   2. waits until the DAG processor has parsed every vendor DAG and triggers, while the DAG is still paused (as
#      created), a dry run, then its first delivery (one run at a time: the dry run lets it go without approval,
#      [aeries_hub] approve_first_delivery), with the conf `make demo` uses (aeries_sandbox.demo.DEMO_RUNS:
#      Xello's runs ignore its weekend pull window); both wait, queued;
#   3. waits until the DAG processor has counted those queued runs (docker/queued_runs.py: otherwise unpausing
#      makes the scheduler start the run of the latest cron time first, before the dry run), then unpauses
#      every vendor DAG: its first run is the dry run.
# DEMO_TRIGGER_RUNS=false stops after step 1. Run with bash, so it needs no execute bit.
set -euo pipefail

secrets_dir="${DEMO_SECRETS_DIR:-/opt/airflow/demo-secrets}"
wait_seconds="${DEMO_DAG_WAIT_SECONDS:-600}"

echo "Importing the demo connections of ${secrets_dir}/connections.json that Airflow does not have yet"
echo "(one it has already is kept as it is, an operator's edit included: \"connection already exists\")"
airflow connections import "${secrets_dir}/connections.json"

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

dag_ids=()
for run in "${runs[@]}"; do
    dag_id="${run%% *}"
    dag_ids+=("${dag_id}")
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
    airflow dags trigger "${dag_id}" --conf "${dry_conf}" </dev/null
    airflow dags trigger "${dag_id}" --conf "${conf}" </dev/null
    echo "Triggered ${dag_id}: a dry run with conf ${dry_conf}, then its first delivery with conf ${conf}"
done

python /opt/aeries-docker/queued_runs.py --timeout "${wait_seconds}" "${dag_ids[@]}" </dev/null
for dag_id in "${dag_ids[@]}"; do
    airflow dags unpause "${dag_id}" </dev/null
done

echo "Every vendor DAG is running: follow them at http://localhost:8080 (Dags, tag aeries)."
