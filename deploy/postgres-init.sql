-- compose.yaml: the MLflow server's backend store lives beside the service database, in its own database
-- (the service's migrations use the version table returnrisk_schema_version, MLflow its alembic_version).
CREATE DATABASE mlflow OWNER returnrisk;
