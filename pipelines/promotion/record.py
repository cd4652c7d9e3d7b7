"""The decision record as a page a reviewer reads (`decision/decision.md` on the run)."""

from __future__ import annotations

from typing import Any


def render_markdown(record: dict[str, Any]) -> str:
    """The decision record as a page a reviewer reads."""
    decision = record["decision"]
    lines = [
        f"# Promotion decision: {'PROMOTE' if decision['promote'] else 'REJECT'}",
        "",
        decision["summary"],
        "",
        f"- Registered model: `{record['registered_model']}`",
        f"- Challenger: v{decision['challenger_version']} (run `{record['challenger_run_id']}`)",
        "- Champion: "
        + (
            f"v{decision['champion_version']} (run `{record.get('champion_run_id')}`)"
            if decision["champion_version"]
            else "none"
        ),
        f"- Holdout: {record['holdout']['start']} .. {record['holdout']['end']} "
        f"({record['holdout']['rows']} labelled flights, neither model trained on them)",
        f"- Data: DVC md5 `{record['data_version'].get('md5')}` "
        f"at git `{record['data_version'].get('git_rev')}`",
        f"- Code: git `{record['code_version']}`",
        "",
        "| check | passed | detail |",
        "| --- | --- | --- |",
    ]
    for check in decision["checks"]:
        lines.append(
            f"| {check['name']} | {'yes' if check['passed'] else '**no**'} | {check['detail']} |"
        )
    lines += [
        "",
        "## Holdout metrics",
        "",
        "| model | " + " | ".join(record["metrics_order"]) + " |",
        "| --- |" + " --- |" * len(record["metrics_order"]),
    ]
    for name, metrics in record["metrics"].items():
        lines.append(
            f"| {name} | " + " | ".join(f"{metrics[m]:.4f}" for m in record["metrics_order"]) + " |"
        )
    challenger = record.get("slices", {}).get("challenger", [])
    if challenger:
        champion = {(r["column"], r["value"]): r for r in record["slices"].get("champion", [])}
        lines += [
            "",
            "## Slices (challenger; the weakest sized ones and every small one)",
            "",
            "| slice | flights | delay rate | ROC AUC | champion ROC AUC |",
            "| --- | --- | --- | --- | --- |",
        ]
        sized = sorted(
            (r for r in challenger if r.get("roc_auc") == r.get("roc_auc") and "roc_auc" in r),
            key=lambda r: r["roc_auc"],
        )
        small = [r for r in challenger if r["small"]]
        for r in [*sized[:8], *small]:
            theirs = champion.get((r["column"], r["value"]), {}).get("roc_auc")
            auc = f"{r['roc_auc']:.3f}" if "roc_auc" in r and r["roc_auc"] == r["roc_auc"] else "—"
            lines.append(
                f"| {r['column']}={r['value']} | {r['rows']} | {r['delay_rate']:.2f} | {auc} | "
                + (f"{theirs:.3f}" if isinstance(theirs, float) and theirs == theirs else "—")
                + " |"
            )
    return "\n".join(lines) + "\n"
