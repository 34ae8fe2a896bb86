"""First contact with a district's Aeries, run by hand before the first delivery (see aeries_hub.first_contact).

Read-only: which security areas the certificate has, how each paged endpoint pages, the row cap, the school years,
Flex schools, pseudo-schools and field coverage per table. The report (first_contact.md, first_contact.json) and
the suggested connection extras (suggested_extra.json) go into the run's staging folder; the task log has the
summary.
"""

from airflow.sdk import Param, task

from aeries_hub import first_contact
from aeries_hub.dag_factory import maintenance_dag

with maintenance_dag(
    "aeries_first_contact",
    description="Read-only check of an Aeries connection before the first delivery: areas, paging, years, schools",
    doc_md=__doc__,
    schedule=None,
    retries=0,
    params={
        "aeries_conn_id": Param("aeries_default", type="string", minLength=1,
                                description="The Aeries connection to check."),
    },
):
    task(task_id="check_aeries")(first_contact.run_in_airflow)(aeries_conn_id="{{ params.aeries_conn_id }}")
