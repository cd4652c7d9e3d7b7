"""`mlops`: every stage of the loop from the command line (the same functions the DAGs call).

A thin root: each stage package owns its commands (`pipelines/<stage>/cli.py`).

Typical first run:  mlops land --start 2013-01-01 --end 2014-01-01 && mlops data publish
                    && mlops features && mlops train && mlops register --run-id <id>
"""

from __future__ import annotations

import sys

import typer

from pipelines.data import cli as data_cli
from pipelines.gate import cli as gate_cli
from pipelines.monitoring import cli as monitoring_cli
from pipelines.promotion import cli as promotion_cli
from pipelines.replay import cli as replay_cli
from pipelines.retraining import cli as retraining_cli
from pipelines.scoring import cli as scoring_cli
from pipelines.serving import cli as serving_cli
from pipelines.training import cli as training_cli
from pipelines.upstream import cli as upstream_cli

app = typer.Typer(
    help="Flight-delay MLOps loop: land, gate, version, train, promote, score, monitor, retrain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for stage in (
    data_cli,
    upstream_cli,
    gate_cli,
    training_cli,
    promotion_cli,
    scoring_cli,
    serving_cli,
    monitoring_cli,
    retraining_cli,
    replay_cli,
):
    app.add_typer(stage.commands)


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
