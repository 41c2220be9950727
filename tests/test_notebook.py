"""The notebook path, run in a real Jupyter kernel (nbclient + ipykernel): fit on arrays with
progress="auto" shows rich's epoch rows as HTML output, with no warning, and load_model's
summary prints in the next cell."""
from __future__ import annotations

import nbformat
from nbclient import NotebookClient

FIT = '''import numpy as np, nntrain
rng = np.random.default_rng(0)
x = rng.normal(size=(200, 4)); y = (x[:, 0] > 0).astype(int)
cfg = {"model": {"layers": [{"type": "dense", "units": 2, "activation": "softmax"}]},
       "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"], "train": {"epochs": 2}}
summary = nntrain.fit(cfg, x=x, y=y, run_dir="run", progress="auto")
print(summary["status"], summary["epochs"])'''


def test_fit_in_a_notebook_renders_rich_progress_and_the_model_summary(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(FIT),
                nbformat.v4.new_code_cell('print(nntrain.load_model("run").summary())')]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    fit_out, summary_out = nb.cells[0].outputs, nb.cells[1].outputs
    html = "".join(o["data"].get("text/html", "") for o in fit_out if o["output_type"] == "display_data")
    assert "<pre" in html and "epoch" in html and "1/2" in html and "2/2" in html  # rich, rendered for Jupyter
    assert not [o for o in fit_out if o.get("name") == "stderr"]
    assert "Warning" not in html  # no live bar asking for ipywidgets
    assert [o["text"] for o in fit_out if o.get("name") == "stdout"] == ["done 2\n"]
    assert "softmax" in summary_out[0]["text"] and "10 parameters" in summary_out[0]["text"]
    assert (tmp_path / "run" / "model.npz").is_file()
