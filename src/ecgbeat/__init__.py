"""ecgbeat: ECG heartbeat classification with LSTM networks and stronger models.

Research software, not a medical device.

Public API (flat)::

    from ecgbeat import build_beats, split_beats, load_kaggle_csv, create_model, train, TrainConfig
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "CLASSES": "labels", "CLASS_NAMES": "labels", "DS1": "labels", "DS2": "labels",
    "BeatSet": "types", "Split": "types", "EcgbeatError": "errors",
    "BeatParams": "dsp.beats", "segment_beats": "dsp.beats",
    "load_kaggle_csv": "io.kaggle", "save_kaggle_csv": "io.kaggle",
    "read_record": "io.mitdb", "resolve_mitdb": "io.mitdb",
    "read_signal": "io.signals", "signal_from_array": "io.signals", "EcgSignal": "io.signals",
    "build_beats": "datasets", "beats_from_record": "datasets", "split_beats": "datasets",
    "create_model": "models", "list_models": "models", "Ensemble": "models",
    "TrainConfig": "training", "train": "training",
    "save_checkpoint": "checkpoint", "load_checkpoint": "checkpoint", "save_ensemble": "checkpoint",
    "classification_metrics": "metrics", "ec57_metrics": "metrics",
    "predict_proba": "predict", "predict_csv": "predict",
    "DataSpec": "pipeline", "load_split": "pipeline", "prepare": "pipeline",
    "train_model": "pipeline", "refit_model": "pipeline", "evaluate": "pipeline", "make_plots": "pipeline",
    "run_demo": "pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    # lazy: `import ecgbeat` stays fast and torch loads only when a model is needed
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'ecgbeat' has no attribute {name!r}")
