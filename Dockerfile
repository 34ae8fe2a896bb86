# The Aeries integration hub's Airflow image: the official Airflow image plus this project's pinned
# requirements, its package (aeries_hub, with the `aeries` connection type) and its DAGs, plugins and mapping
# files. The sandbox (sandbox/: the Aeries emulator, the local servers, the demo) is never in it.
#
#   docker build -t aeries-integration-hub .                       the production image (the last stage)
#   docker build --target demo -t aeries-integration-hub-demo .    plus the sandbox, for `--profile demo`
#
# (docker compose builds both from docker-compose.yml.) Follows
# https://airflow.apache.org/docs/docker-stack/build.html: extend the official image, install as the `airflow`
# user, keep apache-airflow at the image's version and use the project's lock as constraints.
FROM apache/airflow:3.3.2-python3.11 AS hub

USER airflow

# Runtime requirements, every transitive version locked by constraints.txt (see requirements.txt).
# "apache-airflow==${AIRFLOW_VERSION}" (AIRFLOW_VERSION is set by the base image) keeps pip from moving
# Airflow itself: if requirements.txt pinned another version, this install would fail instead.
COPY --chown=airflow:0 requirements.txt constraints.txt /tmp/aeries-hub-requirements/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        -r /tmp/aeries-hub-requirements/requirements.txt -c /tmp/aeries-hub-requirements/constraints.txt \
    && rm -rf /tmp/aeries-hub-requirements

# The DAGs, plugins and mapping files, so that the image runs on its own (docker-compose.yml mounts the
# working copy's folders over these for development).
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 include /opt/airflow/include

# The project package, installed in place: an editable install of /opt/airflow (pyproject.toml packages
# plugins/aeries_hub), so the one aeries_hub there is is the plugins folder's, the files Airflow imports (and,
# under docker compose, the mounted working copy). The install adds the provider entry point that registers
# the `aeries` connection type; its dependencies are the requirements installed above. aeries_hub finds
# include/ beside plugins/ (aeries_hub/paths.py).
COPY --chown=airflow:0 pyproject.toml /opt/airflow/pyproject.toml
RUN pip install --no-cache-dir --no-deps --editable /opt/airflow

# The staging folder when [aeries_hub] staging_url is file:///opt/airflow/staging (docker-compose.yml puts a
# shared volume here; created in the image so that a new volume starts writable by the airflow user).
RUN mkdir -p /opt/airflow/staging

ENV GX_ANALYTICS_ENABLED=False

# The demo image (docker compose --profile demo): the production image plus the sandbox distribution
# (sandbox/pyproject.toml), whose servers stand in for Aeries and the vendors.
FROM hub AS demo
COPY --chown=airflow:0 sandbox /tmp/aeries-hub-sandbox
RUN pip install --no-cache-dir --no-deps /tmp/aeries-hub-sandbox && rm -rf /tmp/aeries-hub-sandbox

# The production image, what `docker build .` builds: no sandbox.
FROM hub AS production
