"""Inspect's receptive-field chart: a deep model's layer names do not overlap (issue 19 small things)."""
from __future__ import annotations

from types import SimpleNamespace

from ui.inspect_figures import MAX_FIELD_TICKS, field_growth_figure


def _rows(n):
    return [SimpleNamespace(leaf=True, name=f"blocks.{i}.conv", receptive_field=(2 * i + 3, 2 * i + 3), jump=(1, 1),
                            global_field=False) for i in range(n)]


def test_a_deep_model_gets_at_most_the_tick_labels_that_fit_and_a_small_one_all():
    deep = field_growth_figure(_rows(150)).layout.xaxis
    assert len(deep.tickvals) <= MAX_FIELD_TICKS and deep.tickvals[0] == "0. blocks.0.conv"
    small = field_growth_figure(_rows(12)).layout.xaxis
    assert len(small.tickvals) == 12
