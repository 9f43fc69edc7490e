"""Figure tests draw on the Agg backend and close every figure they open."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def fit():
    """A real fit_and_score output on the tiny world (two layers, selection on training folds)."""
    from plot_world import real_fit

    return real_fit()
