"""Without scikit-learn and skops, `routing train` and a rules file naming a model say how to
install them from deskbridge's own checkout: `pip install 'deskbridge[model]'` asks PyPI for
whatever project has that name there, not this checkout."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.routing_model import ModelFileError, load_routing_model

LABELLED = Path(__file__).parent / "workflows" / "data" / "routing_labelled.yaml"
EXTRA = "install deskbridge's model extra: pip install '/path/to/deskbridge[model]'"


@pytest.fixture
def without_the_extra(monkeypatch):
    # None in sys.modules makes `import sklearn` (and skops) raise ImportError.
    for name in [n for n in sys.modules if n.split(".")[0] in ("sklearn", "skops")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)


def test_routing_train_names_the_extra_on_the_checkouts_path(without_the_extra, tmp_path):
    out = tmp_path / "team-model.skops"
    result = CliRunner().invoke(main, ["routing", "train", str(LABELLED), "--out", str(out)])

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"routing train needs scikit-learn and skops: {EXTRA}\n",
    )
    assert not out.exists()


def test_loading_a_model_names_the_extra_on_the_checkouts_path(without_the_extra, tmp_path):
    with pytest.raises(ModelFileError) as refused:
        load_routing_model(tmp_path / "team-model.skops", None)

    assert str(refused.value) == f"needs scikit-learn and skops: {EXTRA}"
