"""Maskers: how features outside a coalition are filled in (shap's ``shap.maskers``).

:class:`Independent`: features outside a coalition take the values of each background row in
turn, and the model's outputs are averaged over those rows. :class:`Partition`: the same, with
a hierarchical clustering of the features for Owen values. :class:`Text` and :class:`Image`:
tokens and pixels, each with shap's hierarchy of its parts. :class:`Composite`,
:class:`Fixed`, :class:`FixedComposite` and :class:`OutputComposite`: models of several
inputs. :class:`Masker`: the base class (``save`` / ``load``), for custom maskers too.
"""

from __future__ import annotations

from ferroshap._image_masker import Image
from ferroshap._text_masker import Text
from ferroshap.maskers._composite import Composite, Fixed, FixedComposite, OutputComposite
from ferroshap.maskers._masker import Masker
from ferroshap.maskers._tabular import Impute, Independent, Partition

__all__ = [
    "Composite",
    "Fixed",
    "FixedComposite",
    "Image",
    "Impute",
    "Independent",
    "Masker",
    "OutputComposite",
    "Partition",
    "Text",
]
