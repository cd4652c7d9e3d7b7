"""Great Expectations itself: one ephemeral context per process, built from the suites in code,
and the Data Docs it renders (published to a folder or `s3://…` shared by the workers)."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import pandas as pd

from pipelines.gate.contracts import Contract


def disable_small_frame_fingerprint() -> None:
    """GX md5-hashes every frame under 1 GB to name its batch; chunks are named by position."""
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


class GreatExpectationsRunner:
    """One ephemeral GX context per process, built from the suites in code.

    Nothing is written to a GX project at run time, so nothing needs a lock, and any number
    of gates can run at once on any number of workers. Data Docs are rendered into a scratch
    folder and published to `data_docs_uri` (a folder or `s3://…`, shared by the workers):
    each validation's page under `validations/`, and an index of every page published there."""

    def __init__(self, data_docs_uri: str | None):
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        disable_small_frame_fingerprint()
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.data_docs_uri = data_docs_uri
        self.docs_site: str | None = None
        self._scratch: str | None = None
        if data_docs_uri is not None:
            self.docs_site = "reports"
            self._scratch = tempfile.mkdtemp(prefix="gx-data-docs-")
            self.context.add_data_docs_site(
                site_name=self.docs_site,
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": self._scratch,
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        self.source = self.context.data_sources.add_pandas("batches")
        self._definitions: dict[tuple[str, bool], tuple[str, Any]] = {}
        self._published: dict[str, int] = {}

    def _checkpoint(self, contract: Contract, result_format: str, build_docs: bool) -> Any:
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction

        suite = json.dumps(
            [e.configuration.to_json_dict() for e in contract.expectations],
            sort_keys=True,
            default=str,
        )
        key = (f"{contract.name}:{result_format}:{suite}", build_docs)
        if key not in self._definitions:
            # One suite, asset and definition per distinct suite content: names must be unique
            # in a context, and a contract's row-level subset differs from batch to batch.
            used = {name for name, _ in self._definitions.values()}
            unique = contract.name if contract.name not in used else f"{contract.name}-{len(used)}"
            asset = self.source.add_dataframe_asset(unique)
            definition = self.context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=unique,
                    data=asset.add_batch_definition_whole_dataframe("whole"),
                    suite=self.context.suites.add(Contract(unique, contract.expectations).suite()),
                )
            )
            actions: list[Any] = []
            if build_docs and self.docs_site:
                actions.append(UpdateDataDocsAction(name="data_docs", site_names=[self.docs_site]))
            self._definitions[key] = (
                unique,
                self.context.checkpoints.add(
                    gx.Checkpoint(
                        name=unique,
                        validation_definitions=[definition],
                        actions=actions,
                        result_format={"result_format": result_format},
                    )
                ),
            )
        return self._definitions[key][1]

    def run(
        self,
        contract: Contract,
        frame: pd.DataFrame,
        parameters: dict[str, Any],
        result_format: str,
        build_docs: bool,
        run_name: str | None = None,
    ) -> tuple[Any, str | None]:
        """Validate `frame`; with `build_docs`, its Data Docs page is filed under `run_name`
        (the batch, e.g. `date=2013-02-08`) and its URL returned."""
        from great_expectations.core.run_identifier import RunIdentifier

        build_docs = build_docs and self.docs_site is not None
        checkpoint = self._checkpoint(contract, result_format, build_docs)
        result = checkpoint.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=parameters,
            run_id=RunIdentifier(run_name=run_name) if run_name else None,
        )
        identifier, validation = next(iter(result.run_results.items()))
        docs_url = None
        if build_docs and self.docs_site:
            urls = self.context.get_docs_sites_urls(
                resource_identifier=identifier, site_names=[self.docs_site]
            )
            page = urls[0]["site_url"] if urls else None
            docs_url = self._publish_docs(page)
        return validation, docs_url

    def _publish_docs(self, page_url: str | None) -> str | None:
        """Copy the rendered pages to the shared Data Docs location; return the page's URL."""
        from pipelines.storage import join_uri, publish_tree

        if self._scratch is None or self.data_docs_uri is None:
            raise RuntimeError("Data Docs published before they were rendered")
        publish_tree(self._scratch, self.data_docs_uri, self._published, skip=("index.html",))
        write_data_docs_index(self.data_docs_uri)
        if not page_url:
            return None
        relative = page_url.split(self._scratch, 1)[-1].lstrip("/")
        published = join_uri(self.data_docs_uri, relative)
        return published if "://" in published else f"file://{published}"


def write_data_docs_index(data_docs_uri: str) -> str:
    """An index of every validation page published under `data_docs_uri` by any worker (each
    ephemeral context knows only its own), newest first per suite."""
    from html import escape

    from pipelines.storage import join_uri, list_files, write_text

    root = data_docs_uri.rstrip("/")
    pages = [uri[len(root) + 1 :] for uri in list_files(root, "validations/**/*.html")]
    by_suite: dict[str, list[str]] = {}
    for page in sorted(pages, reverse=True):
        by_suite.setdefault(page.split("/")[1], []).append(page)
    sections = "".join(
        f"<h2>{escape(suite)}</h2><ul>"
        + "".join(f'<li><a href="{escape(p)}">{escape(p.split("/", 2)[2])}</a></li>' for p in found)
        + "</ul>"
        for suite, found in sorted(by_suite.items())
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Data Docs</title></head>"
        f"<body><h1>Great Expectations validations</h1>{sections}</body></html>"
    )
    return write_text(page, join_uri(root, "index.html"))


_RUNNERS: dict[str | None, GreatExpectationsRunner] = {}


def runner(data_docs_uri: str | None) -> GreatExpectationsRunner:
    if data_docs_uri not in _RUNNERS:
        _RUNNERS[data_docs_uri] = GreatExpectationsRunner(data_docs_uri)
    return _RUNNERS[data_docs_uri]
