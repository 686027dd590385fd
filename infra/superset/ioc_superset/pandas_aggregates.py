"""Let pandas run chart post-processing aggregates in its compiled group-by, not per group in Python.

Superset 6.1 hands every post-processing aggregate (the ``pivot`` step of each time-series chart
with a "group by", the ``aggregate`` step) to pandas as ``functools.partial(np.mean)`` and the
like. pandas does not recognise a ``partial`` as one of its own reductions, so it calls it once
per group in Python: py-spy showed this ``pivot`` as a quarter of the server's time on the
*Environment* dashboard (a week of hourly values per station: thousands of one-row groups),
more than the DuckDB query itself.

Upstream fixed it after 6.1 (apache/superset#41025: pass pandas' own names when an operator
has no options). This is that fix, applied at start-up until the pinned Superset has it, and
narrower: only reductions whose numpy and pandas results agree, NaN included (left out:
``std``/``var``, where ``np.std`` on a group is the population deviation and pandas' ``"std"``
the sample one; ``median``, where ``np.median`` propagates NaN and pandas skips it).
"""

from __future__ import annotations

import importlib
from typing import Any

# numpy reductions that pandas computes identically under the same name (NaN-skipping both:
# these numpy functions on a pandas Series defer to the Series method; np.median does not).
NATIVE_OPERATORS = frozenset({"max", "mean", "min", "prod", "sum"})


def native_aggregates_once() -> None:
    """Patch Superset's aggregate resolution (idempotent) so plain reductions go by name."""
    from pandas import NamedAgg

    # The modules, not the package's same-named functions (``pandas_postprocessing.pivot`` is one).
    utils, pivot, aggregate = (importlib.import_module(f"superset.utils.pandas_postprocessing.{name}")
                               for name in ("utils", "pivot", "aggregate"))

    if getattr(utils, "_ioc_native_aggregates", False):
        return
    resolve = utils._get_aggregate_funcs

    def _get_aggregate_funcs(df: Any, aggregates: dict[str, dict[str, Any]]) -> dict[str, Any]:
        funcs = resolve(df, aggregates)  # keeps Superset's validation and error messages
        for name, spec in aggregates.items():
            operator = spec.get("operator")
            if isinstance(operator, str) and operator in NATIVE_OPERATORS and not spec.get("options"):
                funcs[name] = NamedAgg(column=funcs[name].column, aggfunc=operator)
        return funcs

    # pivot and aggregate imported the function by name: replace it where it is called.
    utils._get_aggregate_funcs = pivot._get_aggregate_funcs = aggregate._get_aggregate_funcs = _get_aggregate_funcs
    utils._ioc_native_aggregates = True


__all__ = ["NATIVE_OPERATORS", "native_aggregates_once"]
