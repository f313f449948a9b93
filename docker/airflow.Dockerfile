# Airflow for docker-compose.yaml: the official image plus this project (DAG logic lives in the
# bionicflow package; bionicflow_airflow/dags/ and plugins/ are mounted). Versions match pyproject.toml.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root . /opt/bionicflow
RUN pip install --no-cache-dir /opt/bionicflow
# Imports resolve to the checkout, so project files (debezium/*.json) are found next to the package.
ENV PYTHONPATH=/opt/bionicflow
