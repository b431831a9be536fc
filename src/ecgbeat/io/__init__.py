"""The only layer that opens files or the network."""

from .atomic import atomic_path, write_bytes_atomic, write_json_atomic, write_text_atomic
from .kaggle import load_kaggle_csv, save_kaggle_csv
from .mitdb import Record, download_mitdb, read_record, resolve_mitdb

__all__ = [
    "Record", "atomic_path", "download_mitdb", "load_kaggle_csv", "read_record", "resolve_mitdb",
    "save_kaggle_csv", "write_bytes_atomic", "write_json_atomic", "write_text_atomic",
]
