"""Run a jupytext percent script as a notebook, headless, with injected parameters (as
papermill does: a cell after the one tagged `parameters`). A failing cell raises
`nbclient.exceptions.CellExecutionError`."""
from __future__ import annotations

import base64
from pathlib import Path

import jupytext
import nbformat
import numpy as np
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def inject(notebook: nbformat.NotebookNode, parameters: dict) -> nbformat.NotebookNode:
    """The notebook with a cell assigning `parameters` right after its parameters cell."""
    tagged = [i for i, cell in enumerate(notebook.cells)
              if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "a notebook needs exactly one cell tagged `parameters`"
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(tagged[0] + 1, cell)
    return notebook


def run(name: str, parameters: dict, cwd: Path, timeout: int = 180) -> nbformat.NotebookNode:
    """Execute notebooks/<name>.py in a fresh python3 kernel in `cwd` (jupyter_client
    starts the `python3` kernel with this interpreter, so with this venv's packages)."""
    notebook = inject(jupytext.read(NOTEBOOKS / f"{name}.py"), parameters)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    return client.execute()


def text(notebook: nbformat.NotebookNode) -> str:
    """Everything the cells printed or displayed as text, in order."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output["text"])
            elif "data" in output and "text/plain" in output["data"]:
                parts.append(output["data"]["text/plain"])
    return "\n".join(parts)


def decode(value):
    """Plotly JSON with its typed arrays (`{"dtype", "bdata", "shape"}`) as lists."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.tolist()
    if isinstance(value, dict):
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


def figures(notebook: nbformat.NotebookNode) -> list[dict]:
    """The plotly figures the notebook showed (their JSON, arrays decoded), in order."""
    return [decode(output["data"]["application/vnd.plotly.v1+json"])
            for cell in notebook.cells for output in cell.get("outputs", [])
            if "application/vnd.plotly.v1+json" in output.get("data", {})]
