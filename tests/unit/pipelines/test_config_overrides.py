"""Per-run params overrides (the `training` form): each key checked against params.yaml, the
typed objects rebuilt, and a model trained with them never promoted as if committed."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from pipelines.config import REPO_ROOT, OverrideError, params_from_dict, with_overrides


@pytest.fixture(scope="module")
def params():
    return params_from_dict(yaml.safe_load((REPO_ROOT / "params.yaml").read_text()), REPO_ROOT)


def test_an_override_changes_that_value_only_and_leaves_the_params_it_came_from(params):
    changed = with_overrides(
        params,
        {
            "train.hist_gradient_boosting.max_leaf_nodes": 15,
            "train.calibration.missed_delay_cost": 3,  # an int is a float
            "train.search.enabled": False,
            "retraining.earliest_day": "2013-03-01",  # a date as the form sends it
        },
    )
    assert changed.train.hist_gradient_boosting["max_leaf_nodes"] == 15
    assert changed.train.calibration.missed_delay_cost == 3.0
    assert changed.train.search.enabled is False
    assert changed.retraining.earliest_day == date(2013, 3, 1)
    untouched = {
        k: v for k, v in changed.train.hist_gradient_boosting.items() if k != "max_leaf_nodes"
    }
    assert untouched == {
        k: v for k, v in params.train.hist_gradient_boosting.items() if k != "max_leaf_nodes"
    }
    assert params.train.hist_gradient_boosting["max_leaf_nodes"] != 15  # frozen, not mutated
    assert with_overrides(params, {}) == params


@pytest.mark.parametrize(
    ("overrides", "named", "why"),
    [
        ({"train.hist_gradient_boosting.max_leafs": 15}, "max_leafs", "not a key"),
        ({"trian.seed": 1}, "trian.seed", "not a key"),
        ({"train.seed": "42"}, "train.seed", "takes an integer"),
        ({"train.search.enabled": 1}, "train.search.enabled", "takes true or false"),
        ({"train.holdout_start": "1 Nov"}, "train.holdout_start", "takes a date"),
        ({"train.hist_gradient_boosting": {}}, "train.hist_gradient_boosting", "is a section"),
        ({"mlflow.tracking_uri": "http://x"}, "mlflow.tracking_uri", "outside the sections"),
    ],
)
def test_a_bad_override_is_refused_naming_its_key(params, overrides, named, why):
    with pytest.raises(OverrideError, match=why) as refused:
        with_overrides(params, overrides, sections=("features", "train", "retraining"))
    assert named in str(refused.value)


def test_every_bad_key_is_named_at_once_and_the_typed_checks_still_run(params):
    with pytest.raises(OverrideError) as refused:
        with_overrides(params, {"train.nope": 1, "features.nope": 2})
    assert "'train.nope'" in str(refused.value) and "'features.nope'" in str(refused.value)
    with pytest.raises(OverrideError, match="'train.model'.*hist_gradient_boosting"):
        with_overrides(params, {"train.model": "random_forest"})


@pytest.mark.parametrize(
    ("tags", "passed"),
    [
        ({"params.git_dirty": "false", "params.overrides": '{"train.seed": 1}'}, False),
        ({"params.git_dirty": "false", "params.overrides": "{}"}, True),
        ({"params.git_dirty": "false"}, True),
    ],
)
def test_a_model_trained_with_overrides_is_an_experiment_never_promoted(tags, passed):
    from pipelines.promotion.rules import Decision, committed_tree_check, with_check

    check = committed_tree_check(tags)
    assert check.passed is passed
    assert with_check(Decision(True, "2", "1", ()), check).promote is passed
    if not passed:
        assert "params.overrides" in check.detail and '{"train.seed": 1}' in check.detail
        assert "an experiment" in check.detail and "--force" in check.detail
