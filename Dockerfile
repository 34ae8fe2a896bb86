# The Aeries integration hub's Airflow image: the official Airflow image plus this project's pinned
# requirements, its package (the `aeries` connection type) and its DAGs, plugins and mapping files.
#
#   docker build -t aeries-integration-hub .        (docker compose builds it from docker-compose.yml)
#
# Follows https://airflow.apache.org/docs/docker-stack/build.html: extend the official image, install as the
# `airflow` user, keep apache-airflow at the image's version and use the project's lock as constraints.
FROM apache/airflow:3.3.2-python3.11

USER airflow

# Runtime requirements, every transitive version locked by constraints.txt (see requirements.txt).
# "apache-airflow==${AIRFLOW_VERSION}" (AIRFLOW_VERSION is set by the base image) keeps pip from moving
# Airflow itself: if requirements.txt pinned another version, this install would fail instead.
COPY --chown=airflow:0 requirements.txt constraints.txt /tmp/aeries-hub-requirements/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        -r /tmp/aeries-hub-requirements/requirements.txt -c /tmp/aeries-hub-requirements/constraints.txt \
    && rm -rf /tmp/aeries-hub-requirements

# The project package (plugins/aeries_hub and aeries_sandbox, see pyproject.toml). Its provider entry point
# registers the `aeries` connection type; its dependencies are the requirements installed above.
COPY --chown=airflow:0 pyproject.toml /tmp/aeries-hub-src/pyproject.toml
COPY --chown=airflow:0 plugins/aeries_hub /tmp/aeries-hub-src/plugins/aeries_hub
COPY --chown=airflow:0 aeries_sandbox /tmp/aeries-hub-src/aeries_sandbox
RUN pip install --no-cache-dir --no-deps /tmp/aeries-hub-src && rm -rf /tmp/aeries-hub-src

# The DAGs, plugins and mapping files, so that the image runs on its own (docker-compose.yml mounts the
# working copy's folders over these for development).
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 include /opt/airflow/include

# The staging folder when [aeries_hub] staging_url is file:///opt/airflow/staging (docker-compose.yml puts a
# shared volume here; created in the image so that a new volume starts writable by the airflow user).
RUN mkdir -p /opt/airflow/staging

# aeries_hub finds include/ here, wherever the package is imported from; the plugins folder comes before
# site-packages, so the DAGs run the aeries_hub of /opt/airflow/plugins (the mounted working copy in
# docker compose) rather than the copy installed above, which is there for its entry point.
ENV AERIES_HUB_INCLUDE_DIR=/opt/airflow/include \
    PYTHONPATH=/opt/airflow/plugins \
    GX_ANALYTICS_ENABLED=False
