"""The shop dataset fixtures, shared with the analysis tests."""

from tests.analysis.conftest import shop, shop_project

__all__ = ["shop", "shop_project"]
