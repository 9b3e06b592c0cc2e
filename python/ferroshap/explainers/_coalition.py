"""CoalitionExplainer: Winter values over a user-given hierarchy of feature groups (shap's
``CoalitionExplainer``), on the Rust engine; and shap's ``create_partition_hierarchy``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ferroshap import _core
from ferroshap.explainers._agnostic import MaskedModelExplainer
from ferroshap.explainers._output_selection import output_index
from ferroshap.explanation import Explanation
from ferroshap.maskers import Independent

__all__ = ["CoalitionExplainer", "create_partition_hierarchy"]


def create_partition_hierarchy(linkage_matrix: Any, columns: Any) -> dict[str, Any] | Any:
    """A ``partition_tree`` for :class:`CoalitionExplainer` from a scipy linkage matrix, as
    shap's helper of the same name: each merge ``t`` of the linkage becomes a group named
    ``"group_{M + t}"`` holding its two halves (the root too), each feature its column name.

    Parameters
    ----------
    linkage_matrix
        ``(M - 1, >=2)`` linkage (e.g. ``ferroshap.utils.partition_tree(X)``).
    columns
        The ``M`` feature names, in column order.

    Returns
    -------
    dict or name
        The nested groups (a lone name when ``M == 1``).

    Examples
    --------
    >>> create_partition_hierarchy([[0, 1, 0.5, 2], [3, 2, 1.0, 3]], ["a", "b", "c"])
    {'group_4': [{'group_3': ['a', 'b']}, 'c']}
    """
    linkage = np.asarray(linkage_matrix)
    m = len(columns)
    if linkage.ndim != 2 or linkage.shape[0] != m - 1 or (m > 1 and linkage.shape[1] < 2):
        raise ValueError(
            f"a linkage matrix over {m} columns has shape ({m - 1}, >=2), got {linkage.shape}"
        )

    def node(i: int) -> Any:
        if i < m:
            return columns[i]
        left, right = (int(c) for c in linkage[i - m, :2])
        if not (0 <= left < i and 0 <= right < i):
            raise ValueError(
                f"linkage row {i - m} merges nodes {left} and {right}, not earlier ones"
            )
        return {f"group_{i}": [node(left), node(right)]}

    return node(2 * m - 2)


def _label(path: tuple[Any, ...]) -> str:
    return "the top level" if not path else "group " + "/".join(map(str, path))


def _groups_of(partition_tree: Any, names: list[Any]) -> list[list[int]]:
    """The groups of ``partition_tree`` over the features ``names`` (group ``t`` is node
    ``M + t``; members are features or earlier groups; the last group is the root), as the
    core's ``GameJob.winter`` takes them. Raises ValueError naming an unknown, repeated or
    missing feature, or an empty group."""
    m = len(names)
    index: dict[Any, int] = {}
    for j, name in enumerate(names):
        if name in index:
            raise ValueError(f"the feature name {name!r} is used by columns {index[name]} and {j}")
        index[name] = j
    groups: list[list[int]] = []
    seen: dict[int, tuple[Any, ...]] = {}

    def feature(name: Any, path: tuple[Any, ...]) -> int:
        try:
            j = index[name]
        except (KeyError, TypeError):
            shown = ", ".join(map(repr, names[:12])) + (", ..." if m > 12 else "")
            raise ValueError(
                f"partition_tree names the feature {name!r} ({_label(path)}), which is not one of "
                f"the data's features: {shown}"
            ) from None
        if j in seen:
            raise ValueError(
                f"partition_tree names the feature {name!r} twice: in {_label(seen[j])} and in "
                f"{_label(path)}; every feature must be in exactly one group"
            )
        seen[j] = path
        return j

    def members(value: Any, path: tuple[Any, ...]) -> list[int]:
        if isinstance(value, Mapping):
            out = []
            for key, sub in value.items():
                if isinstance(sub, (Mapping, list, tuple)):
                    out.append(group(sub, (*path, key)))
                elif isinstance(sub, str) and sub == key:
                    out.append(feature(key, path))  # shap's flat form {name: name}
                else:
                    raise ValueError(
                        f"partition_tree maps {key!r} ({_label(path)}) to {sub!r}: a group is a "
                        "list or dict of members, and a single feature is written "
                        f"{{{key!r}: {key!r}}} or as a list of one name"
                    )
            return out
        if isinstance(value, (list, tuple)):
            out = []
            for item in value:
                # A dict inside a list contributes its groups as members (as shap reads it).
                out.extend(
                    members(item, path) if isinstance(item, Mapping) else [feature(item, path)]
                )
            return out
        raise ValueError(
            f"partition_tree must be a dict of groups or a list of feature names, got "
            f"{type(value).__name__} {value!r}"
        )

    def group(value: Any, path: tuple[Any, ...]) -> int:
        inner = members(value, path)
        if not inner:
            raise ValueError(f"partition_tree's {_label(path)} is empty")
        groups.append(inner)
        return m + len(groups) - 1

    if isinstance(partition_tree, str) or not isinstance(partition_tree, (Mapping, list, tuple)):
        # One feature alone (create_partition_hierarchy's result for one column).
        groups.append([feature(partition_tree, ())])
    else:
        group(partition_tree, ())
    missing = [names[j] for j in range(m) if j not in seen]
    if missing:
        raise ValueError(
            f"partition_tree leaves out the features {missing}: every feature must be in exactly "
            "one group (shap would hold them at the background and give them 0, so that the "
            "values no longer add up to the prediction)"
        )
    return groups


class CoalitionExplainer(MaskedModelExplainer):
    """Winter values (recursive Owen values) over a hierarchy of feature groups that you
    give, as ``shap.CoalitionExplainer``.

    At every level of the hierarchy a group plays against its sibling groups: a feature's
    value is its marginal contribution averaged with Shapley weights over the coalitions of
    its siblings at each level of its path (equivalently, averaged over the orderings of the
    features that keep every group together). Each group's total is then its Shapley value
    among its siblings, and the values add up to ``f(x) - E[f]``. A flat hierarchy gives
    the Shapley values (``ExactExplainer``), a binary one the Owen values
    (``PartitionExplainer`` with a budget that splits every cluster).

    Every coalition is evaluated once per row (576 for the 12 adult features in 4 groups of
    6, 3, 2 and 1: shap calls the model once for each), in large model calls, and combined
    in Rust; for a tree model whose converted ensemble reproduces it (e.g. XGBoost's
    ``predict_proba``) the coalitions are evaluated from the trees without calling the model.
    A hierarchy needing more than 2^24 marginal contributions per row (a group of more than
    20 members, say) is refused with a ValueError that gives its size.

    Parameters
    ----------
    model
        A function from a 2-D float array ``(n, n_features)`` to outputs ``(n,)`` or
        ``(n, n_outputs)``, or an object with ``predict_proba`` (used when present) or
        ``predict``.
    masker
        Background rows (numpy, pandas or polars; at most 100 are kept, as shap's maskers
        do) or a :class:`ferroshap.maskers.Independent` / :class:`~ferroshap.maskers.Partition`
        (its clustering is not used). Feature names come from ``feature_names``, else the
        masker's ``feature_names`` (which you may set, as shap's examples do), else the data
        frame's columns.
    partition_tree
        The hierarchy, as shap takes it: a dict from group names to their members, a list of
        feature names or a dict of subgroups, nested to any depth, e.g.
        ``{"Demographics": ["Age", "Sex"], "Finance": {"Income": ["Salary"], "Assets":
        ["Savings", "Stocks"]}}``. A dict inside a list adds its groups to the list's group;
        ``{"Age": "Age"}`` is the feature ``Age`` alone. Every feature must appear exactly
        once; an unknown, repeated or missing feature or an empty group raises ValueError.
    link
        ``"identity"`` or ``"logit"`` (or shap's ``shap.links`` objects): the scale on which
        the values add up, as shap's masked model applies it (see ``linearize_link``).
    linearize_link
        With a link other than the identity: average the link of each background row's output
        with shap's linearizing weights (the default, as shap); ``False``: the link of the
        mean output.
    feature_names, output_names
        Names for the explanation (and, for ``feature_names``, the names ``partition_tree``
        refers to).
    native
        ``"auto"`` (default): evaluate a tree model's coalitions from its converted trees when
        they reproduce the model's outputs; ``False``: always call the model; ``True``: insist
        on the trees.

    Examples
    --------
    >>> import numpy as np, ferroshap
    >>> f = lambda X: X[:, 0] * X[:, 1] + X[:, 2]
    >>> masker = ferroshap.maskers.Independent(np.zeros((1, 3)))
    >>> masker.feature_names = ["a", "b", "c"]
    >>> tree = {"ab": ["a", "b"], "c": ["c"]}
    >>> explainer = ferroshap.CoalitionExplainer(f, masker, partition_tree=tree)
    >>> explainer(np.array([[1.0, 2.0, 3.0]]), silent=True).values
    array([[1., 1., 3.]])
    """

    _name = "Coalition SHAP"

    def __init__(
        self,
        model: Any,
        masker: Any,
        *,
        output_names: list[str] | None = None,
        link: Any = "identity",
        linearize_link: bool = True,
        feature_names: list[str] | None = None,
        partition_tree: Mapping[str, Any] | None = None,
        native: bool | str = "auto",
    ) -> None:
        if partition_tree is None:
            raise ValueError(
                "CoalitionExplainer needs a partition_tree: a dict of feature groups, e.g. "
                '{"Demographics": ["Age", "Sex"], "Work": ["Hours per week"]} (for a '
                "clustering of the features, use PartitionExplainer)"
            )
        if type(masker).__module__.partition(".")[0] == "shap" and hasattr(masker, "data"):
            # A masker of shap's: its background rows and the names set on it.
            named = Independent(masker.data, max_samples=len(masker.data))
            named.feature_names = getattr(masker, "feature_names", None)
            masker = named
        super().__init__(
            model,
            masker,
            link=link,
            feature_names=feature_names,
            linearize_link=linearize_link,
            output_names=output_names,
            native=native,
        )
        if self.feature_names is None:
            raise ValueError(
                "partition_tree names features, but the background data has no feature names: "
                "pass a DataFrame, set masker.feature_names, or pass feature_names="
            )
        self.partition_tree = partition_tree
        self._groups = _groups_of(partition_tree, self.feature_names)
        self._n_coalitions, self._n_terms = _core.GameJob.winter_size(self.n_features, self._groups)

    def _coalitions_per_row(self, max_evals: Any) -> int:
        return self._n_coalitions

    def _job(
        self, block: np.ndarray, background: np.ndarray, start: int, seed: int, max_evals: Any
    ) -> _core.GameJob:
        return _core.GameJob.winter(
            block, background, self.weights, self.fnull, self._groups, **self._link_args()
        )

    def __call__(
        self,
        *args: Any,
        max_evals: int | str = 500,
        fixed_context: int | str | None = None,
        main_effects: bool = False,
        error_bounds: bool = False,
        batch_size: int | str = "auto",
        outputs: Any = None,
        silent: bool = False,
    ) -> Explanation:
        """Explains the rows of ``X``.

        Parameters
        ----------
        X
            Rows ``(n_rows, n_features)`` or one row ``(n_features,)``.
        max_evals, fixed_context, main_effects, error_bounds
            Accepted for shap's signature and, as in shap's CoalitionExplainer, without
            effect: every coalition the hierarchy needs is evaluated.
        batch_size
            Rows of model input per model call (``"auto"``: a few hundred thousand values).
        outputs
            Output indices to explain (an index or a list; the output axis is kept), or
            ``None`` for all.
        silent
            Hide the progress bar (shown for long runs when ``tqdm`` is installed).

        Returns
        -------
        Explanation
            ``values`` ``(n_rows, n_features)`` for single-output models, ``(n_rows,
            n_features, n_outputs)`` otherwise; ``base_values`` the mean output over the
            background; ``feature_names`` the features' names.
        """
        if len(args) != 1:
            raise TypeError("CoalitionExplainer explains one data argument X")
        if fixed_context not in (None, 0, 1, "auto") or isinstance(fixed_context, bool):
            raise ValueError(f"fixed_context must be 0, 1 or None, got {fixed_context!r}")
        index = None if outputs is None else output_index(outputs, self._n_outputs, self._single)
        values, errors, matrix = self._explain(args[0], max_evals, silent, batch_size)
        explanation = self._explanation(values, errors, matrix, False)
        # Each output's Winter values use the same coalitions whichever outputs are asked for.
        return explanation if index is None else explanation[..., index]

    def __str__(self) -> str:
        return "ferroshap.explainers.CoalitionExplainer()"
