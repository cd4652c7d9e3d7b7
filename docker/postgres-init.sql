-- MLflow gets its own database beside Airflow's.
CREATE USER mlflow WITH PASSWORD 'airflow';
CREATE DATABASE mlflow OWNER mlflow;
