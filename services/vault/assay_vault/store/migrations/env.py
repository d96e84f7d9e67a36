from assay_common.db import run_migrations_from_env

run_migrations_from_env()
