"""Data sources -> DataBundle: built-in sets, image/audio folders, text files, uploaded zips.

``load(source, kind=None, **opts)`` is the entry point; see ``core.data.load.load``. ``index(source)`` gives the
counts without decoding any data (core.data.index).
"""
from core.data.archive import extract_upload, safe_extract
from core.data.builtin import BUILTINS, builtin_sources, ensure as ensure_builtin, is_ready as builtin_ready
from core.data.bundle import DataBundle, DataError, Skipped
from core.data.index import DataIndex, index
from core.data.load import detect_kind, load
from core.data.photos import sample_photos
from core.data.vocab import Vocab

__all__ = ["load", "index", "DataIndex", "detect_kind", "DataBundle", "DataError", "Skipped", "Vocab", "sample_photos",
           "BUILTINS", "builtin_sources", "ensure_builtin", "builtin_ready", "safe_extract", "extract_upload"]
