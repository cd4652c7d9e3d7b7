"""Airflow's accounts on the production profile (Flask AppBuilder's auth manager): `admin`
(role Admin) and `viewer` (role Viewer), their passwords from a JSON file written with mode 600
(`make stack`) or from the environment (docker-compose's `.env`), never from the command line
(`airflow users create --password` would show it in the process list). Idempotent: an existing
account is left as it is.

    python deploy/airflow_accounts.py PASSWORDS.json   # {"admin": "...", "viewer": "..."}
    python deploy/airflow_accounts.py --from-env  # AIRFLOW_ADMIN_PASSWORD, AIRFLOW_VIEWER_PASSWORD
"""

from __future__ import annotations

import json
import os
import sys

ROLES = {"admin": "Admin", "viewer": "Viewer"}


def passwords(argument: str) -> dict[str, str]:
    if argument == "--from-env":
        return {user: os.environ[f"AIRFLOW_{user.upper()}_PASSWORD"] for user in ROLES}
    with open(argument) as handle:
        stored = json.load(handle)
    return {user: str(stored[user]) for user in ROLES}


def create(secrets: dict[str, str]) -> None:
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        for user, role_name in ROLES.items():
            if appbuilder.sm.find_user(username=user):
                continue
            role = appbuilder.sm.find_role(role_name)
            if role is None:
                raise SystemExit(f"Airflow has no role {role_name}: was `airflow db migrate` run?")
            created = appbuilder.sm.add_user(
                user, user, "account", f"{user}@localhost", role, secrets[user]
            )
            if not created:
                raise SystemExit(f"could not create the Airflow account {user}")
            print(f"created the Airflow account {user} (role {role_name})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: airflow_accounts.py PASSWORDS.json | --from-env")
    create(passwords(sys.argv[1]))
