"""The hub view: an Airflow UI page (a plugin's FastAPI app) with every vendor and write-back DAG's latest run.

``model`` collects what the page shows from the metadata database and the runs' report.json, ``render`` writes the
HTML, ``app`` is the FastAPI app that checks who asks, and ``plugin`` the AirflowPlugin that mounts it.
"""
