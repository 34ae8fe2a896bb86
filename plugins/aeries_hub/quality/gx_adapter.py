"""Every Great Expectations call and workaround, in one place: the rest of the package never imports GX, so an
upgrade of GX is a change to this file.

A ``FrameValidator`` is an ephemeral data context with a pandas data source, one dataframe asset and its
whole-dataframe batch definition; the runner builds a suite of checks on it, validates a frame and reads back
one ``ExpectationResult`` per check. GX is imported only when ``import_gx`` is called (the import costs
seconds and would slow DAG parsing).

Data Docs: with ``docs_dir``, the GX expectation suites and validation results are kept in
``<docs_dir>/.gx_store/`` (filesystem stores of the otherwise ephemeral context), so that several
``validate_frame`` calls into one folder (one per table of a run) build one site whose index.html lists
them all; only the new pages are rendered on each call. With ``site=False`` only the validation JSON
files are written (what the run's tasks use: the HTML site is for browsing, and costs time per table).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, Iterator, Mapping

from aeries_hub.quality.checks import Check, CheckConfigError
from aeries_hub.quality.helpers import ExpectationSpec

#: Longest unexpected value/index list kept in the written validation results (reject checks ask GX for every
#: failing row; 100,000 rejected roster rows made seconds of JSON and megabytes of docs). The rejects CSV has all.
DOCS_LIST_LIMIT = 1000
_GX_SEVERITY = {"error": "critical", "warning": "warning", "reject": "warning"}
_STORE_DIR = ".gx_store"
#: Every failing row's index (reject checks remove them all), or a summary with the first failing rows.
_EVERY_FAILING_ROW = {"result_format": "COMPLETE", "partial_unexpected_count": 20, "return_unexpected_index_query": False}
_SUMMARY = {"result_format": "SUMMARY", "partial_unexpected_count": 20, "return_unexpected_index_query": False}


def import_gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    # GX logs at INFO what it registers on import and each data source it loads: some 220 lines ("Skipping
    # registering function ... because it is a closure") in each validating task's log. Its warnings and
    # errors still reach the log.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    # A GX module may set its own logger's level, which the parent's does not cap (data_context.types.base sets
    # INFO): each great_expectations.* logger below WARNING is raised to it, also those of modules GX imported late.
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("great_expectations.") and isinstance(logger, logging.Logger) \
                and logging.NOTSET < logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    _memoize_configuration()
    return gx


#: What ``Expectation.configuration`` built, by ``id`` of the expectation, while one of ``_CONFIGURATION_SCOPES`` runs.
_configurations: dict[int, Any] = {}
_memoized: list[type] = []
#: The Expectation methods that read ``self.configuration`` once per key they look up (and
#: ``get_validation_dependencies``, once per metric, in each class that defines it).
_CONFIGURATION_SCOPES = ("_get_runtime_kwargs", "_get_success_kwargs", "_get_domain_kwargs")
_DEPENDENCIES = "get_validation_dependencies"


def _memoize_configuration() -> None:
    """GX's ``Expectation.configuration`` builds an ExpectationConfiguration anew from the pydantic model (a
    ``.dict()`` and a class-name conversion) on each read, and ``_get_runtime_kwargs`` reads it once per domain,
    success and runtime key, for each metric of each expectation, twice per validation (graph building, then
    ``metrics_validate``): about a third of a suite's validation time. Within one call of those methods the
    expectation does not change, so the configuration is built once per call (dropped when it returns: a later
    read builds it again); the values GX computes are the same."""
    from great_expectations.expectations.expectation import Expectation

    if _memoized:
        return
    _memoized.append(Expectation)
    built = Expectation.__dict__["configuration"].fget

    def configuration(self: Any) -> Any:
        memo = _configurations.get(id(self))
        return built(self) if memo is None else memo

    def scoped(method: Any) -> Any:
        @wraps(method)
        def within(self: Any, *args: Any, **kwargs: Any) -> Any:
            key = id(self)
            if key in _configurations:  # an outer scope holds it (the object is alive: its id is its own)
                return method(self, *args, **kwargs)
            _configurations[key] = built(self)
            try:
                return method(self, *args, **kwargs)
            finally:
                del _configurations[key]
        return within

    patches: list[tuple[type, str, Any]] = [(Expectation, "configuration", property(configuration))]
    patches += [(Expectation, name, scoped(getattr(Expectation, name))) for name in _CONFIGURATION_SCOPES]
    classes: list[type] = [Expectation]
    seen: set[type] = set()
    while classes:  # each kind of expectation that says which metrics it needs: one read per metric
        cls = classes.pop()
        subclasses: list[type] = cls.__subclasses__()
        classes += [sub for sub in subclasses if sub not in seen]
        seen.add(cls)
        if _DEPENDENCIES in cls.__dict__:
            patches.append((cls, _DEPENDENCIES, scoped(cls.__dict__[_DEPENDENCIES])))
    for owner, name, value in patches:
        setattr(owner, name, value)


@dataclass
class ExpectationResult:
    """What GX found for one check: its ``result`` details (``unexpected_count``, ``unexpected_index_list``,
    ``observed_value``...), whether it succeeded, and why it could not run, if it could not."""

    check: int
    success: bool
    details: Mapping[str, Any]
    exception: str | None


class FrameValidator:
    """An ephemeral GX context with one pandas dataframe asset, on which suites of checks validate frames."""

    def __init__(self, gx: Any, asset_name: str, docs_dir: str | os.PathLike | None) -> None:
        self._gx = gx
        self._context = _context(gx, docs_dir)
        data = self._context.data_sources.add_pandas(name="frames")
        asset = data.add_dataframe_asset(name=asset_name)
        self._batch_definition = asset.add_batch_definition_whole_dataframe("whole frame")
        #: (artifact, file name, suite, batch id, validation) of each validation, for ``write_docs``.
        self._phases: list[tuple[str, str, Any, Any, Any]] = []

    def suite(self, suite_name: str, checks: list[Check], ids: list[int], specs: dict[int, ExpectationSpec]) -> Any:
        """The suite of ``checks[i]`` for each of ``ids``, as ``specs`` hand them to GX.

        Raises CheckConfigError when GX refuses a check's arguments."""
        from great_expectations.expectations.registry import get_expectation_impl

        suite = self._gx.ExpectationSuite(name=suite_name)
        for i in ids:
            check = checks[i]
            spec = specs[i]
            meta = {
                "check": i,
                "severity": check.severity,
                "description": check.description,
                "where": check.where,
                "columns": list(check.columns),
            }
            if check.ignore_blank:
                meta["ignore_blank"] = True
            if check.value_set_from:
                meta["value_set_from"] = str(check.value_set_from)
            if spec.expectation != check.expectation:
                meta["expectation"] = check.expectation
            options: dict[str, Any] = {"meta": meta, "severity": _GX_SEVERITY[check.severity]}
            if check.description:
                options["description"] = check.description
            try:
                if spec.own_kwargs is not None:  # a helper column stands in: GX still checks the check's arguments
                    get_expectation_impl(check.expectation)(**spec.own_kwargs)
                expectation = get_expectation_impl(spec.expectation)(**spec.kwargs, **options)
            except Exception as exc:  # pydantic ValidationError, GX InvalidExpectationConfigurationError
                raise CheckConfigError(f"{check.where}: {check.expectation}: {_pydantic_message(exc)}") from None
            suite.add_expectation(expectation)
        return self._context.suites.add_or_update(suite)

    def batch(self, frame: Any) -> Any:
        with _no_batch_fingerprint():
            return self._batch_definition.get_batch(batch_parameters={"dataframe": frame})

    def validate(self, frame: Any, suite: Any, *, every_failing_row: bool, artifact: str,
                 file_name: str) -> list[ExpectationResult]:
        """Validate ``frame`` with ``suite``: with ``every_failing_row`` each result lists the index of every
        failing row (``unexpected_index_list``), else the first 20 (``partial_unexpected_index_list``).
        ``write_docs`` writes the validation to ``file_name`` and names it ``artifact``.

        Each expectation is validated on a batch of only the columns it reads, and GX's metrics are let go after
        each: GX copies every column of the batch when it leaves a check's null rows out, and keeps what it
        computed for every expectation of a validation until its context goes (enrollments.csv's ten reject checks
        at 500,000 students: 94 MiB at once, 43 MiB one by one, in the same time). The suite's one validation
        result is put together from theirs as GX puts it together from its expectations'."""
        from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
        from great_expectations.validator.validation_statistics import calc_validation_statistics

        result_format = _EVERY_FAILING_ROW if every_failing_row else _SUMMARY
        validations = []
        for expectations in [[expectation] for expectation in suite.expectations] or [[]]:
            batch = self.batch(_columns_for(frame, expectations))
            one = self._gx.ExpectationSuite(name=suite.name, expectations=[e.configuration for e in expectations])
            with _no_batch_fingerprint():  # batch.validate gets the batch again
                validations.append(batch.validate(one, result_format=result_format))
            _forget_metrics(batch)
            del batch
        results = [gx_result for validated in validations for gx_result in validated.results]
        statistics = calc_validation_statistics(results)
        validation: Any = ExpectationSuiteValidationResult(
            results=results, success=statistics.success, suite_name=suite.name,
            statistics={"evaluated_expectations": statistics.evaluated_expectations,
                        "successful_expectations": statistics.successful_expectations,
                        "unsuccessful_expectations": statistics.unsuccessful_expectations,
                        "success_percent": statistics.success_percent},
            meta=validations[0].meta, batch_id=validations[0].batch_id)
        self._phases.append((artifact, file_name, suite, validation.batch_id, validation))
        return [
            ExpectationResult(check=int(gx_result.expectation_config.meta["check"]), success=bool(gx_result.success),
                              details=gx_result.result or {}, exception=_exception_text(gx_result))
            for gx_result in validation.results
        ]

    def close(self) -> None:
        """Let go of the context once its validations are done: GX keeps the last context it made as its current
        one (``context_factory.project_manager``), and with it the last batch's data frame, until it makes another
        (in a process that runs task after task, the table a finished task validated: 24 MiB of the 100,000-student
        rosters, docs/benchmarks.md)."""
        from great_expectations.data_context.data_context.context_factory import project_manager

        project_manager.set_project(None)

    def write_docs(self, docs_dir: Path, run_name: str, *, site: bool = True) -> dict[str, str]:
        """Write each validation's JSON into ``docs_dir`` and, with ``site``, the Data Docs pages; the files
        written, by artifact (``docs_index`` for the site)."""
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        docs_dir.mkdir(parents=True, exist_ok=True)
        run_id = RunIdentifier(run_name=run_name, run_time=_dt.datetime.now(_dt.timezone.utc))
        keys: list[Any] = []
        artifacts: dict[str, str] = {}
        for artifact, file_name, suite, batch_id, validation in self._phases:
            _shorten_lists(validation)
            suite_key = ExpectationSuiteIdentifier(name=suite.name)
            key = ValidationResultIdentifier(expectation_suite_identifier=suite_key, run_id=run_id,
                                             batch_identifier=batch_id)
            validation.meta["run_id"] = run_id
            if site:
                self._context.validation_results_store.set(key, validation)
            keys += [suite_key, key]
            target = docs_dir / file_name
            target.write_text(json.dumps(validation.to_json_dict(), indent=2, default=str), encoding="utf-8")
            artifacts[artifact] = str(target)
        if site:
            self._context.build_data_docs(resource_identifiers=keys)
            artifacts["docs_index"] = str(docs_dir / "index.html")
        return artifacts


def _columns_for(frame: Any, expectations: list) -> Any:
    """``frame`` with only the columns ``expectations`` read (all of them for an expectation on the table)."""
    from aeries_hub.quality.helpers import columns_of

    columns = []
    for expectation in expectations:
        kwargs = expectation.configuration.kwargs
        read = [kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs]
        read += list(kwargs.get("column_list") or ())
        if not read:
            return frame
        columns += read
    if not columns or not set(columns) <= set(frame.columns) or not frame.columns.is_unique:
        return frame  # (a column the frame lacks: GX's own error names it)
    return columns_of(frame, [column for column in frame.columns if column in columns])


def _forget_metrics(batch: Any) -> None:
    """Empty the metric cache of ``batch``'s execution engine: GX keeps every metric it resolved there (the
    True/False series of each expectation, and what they were computed from) for as long as its context lives."""
    cache = getattr(getattr(batch.data, "execution_engine", None), "_metric_cache", None)
    if isinstance(cache, dict):
        cache.clear()


@contextmanager
def _no_batch_fingerprint() -> Iterator[None]:
    """GX hashes every row of a pandas batch under 1 GB for a ``pandas_data_fingerprint`` batch marker (4-5 s
    of a district's validation); nothing here reads it and each frame is new, so it is turned off while the
    batches are made (GX's threshold, restored afterwards; a GX without it is left as it is)."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    threshold = getattr(engine, "HASH_THRESHOLD", None)
    if threshold is None:
        yield
        return
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = threshold


def _context(gx: Any, docs_dir: str | os.PathLike | None) -> Any:
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    sites: dict[str, Any] = {}
    if docs_dir is not None:
        root = Path(docs_dir).resolve()
        for store_name, folder in ((defaults.expectations_store_name, "expectations"),
                                   (defaults.validation_results_store_name, "validations")):
            defaults.stores[store_name]["store_backend"] = {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(root / _STORE_DIR / folder),
            }
        sites["local_site"] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(root)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        data_docs_sites=sites,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _pydantic_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0]
    by_field: dict[str, str] = {}
    for error in errors():
        loc = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__") or "arguments"
        if error.get("type") == "value_error.extra":
            by_field.setdefault(loc, f"{loc}: unknown argument")
        else:
            by_field.setdefault(loc, f"{loc}: {error.get('msg')}")
    return "; ".join(by_field.values())


def _exception_text(gx_result: Any) -> str | None:
    info = gx_result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    messages = [v.get("exception_message") for v in info.values()
                if isinstance(v, Mapping) and v.get("raised_exception")]
    distinct: list[str] = [m for m in dict.fromkeys(messages) if m]
    return "; ".join(distinct) if distinct else None


def _shorten_lists(validation: Any) -> None:
    """Cut the unexpected lists of the results to ``DOCS_LIST_LIMIT`` entries, saying so in the result."""
    for gx_result in validation.results:
        details = gx_result.result or {}
        for key in ("unexpected_list", "unexpected_index_list"):
            values = details.get(key)
            if isinstance(values, list) and len(values) > DOCS_LIST_LIMIT:
                details[key] = values[:DOCS_LIST_LIMIT]
                details[f"{key}_length"] = len(values)
