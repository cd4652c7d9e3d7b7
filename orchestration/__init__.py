"""Airflow-side building blocks (sensors, triggers) shared by the DAGs; importable by the
triggerer because the project is installed. Stage logic stays in `pipelines/`."""
