"""Small data containers shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .labels import CLASSES


@dataclass(frozen=True)
class BeatSet:
    """A set of fixed-length heartbeats.

    Attributes
    ----------
    X : ndarray, shape (n_beats, n_samples), float32
        Beats, each starting at its R peak, scaled to [0, 1] and zero-padded (Kaggle format).
    y : ndarray, shape (n_beats,), int64
        Class index into ``classes``; -1 where the label is unknown.
    record : ndarray, shape (n_beats,), str
        Record each beat comes from ("" when unknown, e.g. Kaggle CSV rows).
    sample : ndarray, shape (n_beats,), int64
        R-peak sample index in the original record (at the record's own ``fs``); -1 when unknown.
    rr_s : ndarray, shape (n_beats, 3), float32
        Previous RR, next RR and local average RR (mean of the 10 previous RR intervals), seconds;
        NaN where unknown.
    long_rr_s : ndarray, shape (n_beats,), float32
        Mean of the RR intervals of the last few minutes of the beat's record
        (:mod:`ecgbeat.dsp.context`); NaN where unknown.
    template : ndarray, shape (n_beats, n_samples), float32, or None
        Median of the previous beats of the beat's record, cut the same way (its patient's
        dominant beat, :mod:`ecgbeat.dsp.context`); None when unknown (e.g. Kaggle CSV rows).
    fs : float
        Sampling frequency of the beats, Hz.
    classes : tuple of str
        Class names.
    """

    X: np.ndarray
    y: np.ndarray
    record: np.ndarray = field(default=None)  # type: ignore[assignment]
    sample: np.ndarray = field(default=None)  # type: ignore[assignment]
    rr_s: np.ndarray = field(default=None)  # type: ignore[assignment]
    long_rr_s: np.ndarray = field(default=None)  # type: ignore[assignment]
    template: np.ndarray | None = None
    fs: float = 125.0
    classes: tuple[str, ...] = CLASSES

    def __post_init__(self) -> None:
        n = len(self.X)
        if self.X.ndim != 2:
            raise ValueError(f"BeatSet.X must be 2-D (n_beats, n_samples), got shape {self.X.shape}")
        if len(self.y) != n:
            raise ValueError(f"BeatSet: {n} beats but {len(self.y)} labels")
        defaults = {
            "record": np.full(n, "", dtype=object),
            "sample": np.full(n, -1, dtype=np.int64),
            "rr_s": np.full((n, 3), np.nan, dtype=np.float32),
            "long_rr_s": np.full(n, np.nan, dtype=np.float32),
        }
        for name, default in defaults.items():
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, default)
            elif len(value) != n:
                raise ValueError(f"BeatSet.{name} has {len(value)} rows, expected {n}")
        if self.template is not None and self.template.shape != self.X.shape:
            raise ValueError(f"BeatSet.template has shape {self.template.shape}, expected {self.X.shape}")

    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[1])

    def subset(self, index: np.ndarray) -> BeatSet:
        """Beats selected by an integer or boolean index."""
        return BeatSet(
            X=self.X[index], y=self.y[index], record=self.record[index],
            sample=self.sample[index], rr_s=self.rr_s[index], long_rr_s=self.long_rr_s[index],
            template=None if self.template is None else self.template[index], fs=self.fs, classes=self.classes,
        )

    def class_counts(self) -> dict[str, int]:
        """Number of beats per class name (classes with zero beats included)."""
        counts = np.bincount(self.y[self.y >= 0], minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, counts)}


@dataclass(frozen=True)
class Split:
    """Train / validation / test beats plus how they were made."""

    train: BeatSet
    val: BeatSet
    test: BeatSet
    name: str
    seed: int
    info: dict = field(default_factory=dict)


def refresh_blocks(rows: np.ndarray, seen: int, every: int):
    """Split ``rows`` (a batch's readable beats, in time order) into consecutive blocks that end where
    the running count of beats (``seen`` before the batch) reaches a multiple of ``every``. Yields
    ``(block, refresh)``, ``refresh`` True when the count reaches such a multiple with the block: how a
    causal per-patient estimate refreshed every ``every`` beats gives the same output for any chunking."""
    i = 0
    while i < len(rows):
        block = rows[i: i + every - seen % every]
        seen, i = seen + len(block), i + len(block)
        yield block, seen % every == 0


def records_in_time_order(record: np.ndarray, sample: np.ndarray) -> list[np.ndarray]:
    """Indices of each record's beats (``record``), in time order (``sample``; stable for ties):
    what per-patient running quantities (rhythm, class mix) walk through."""
    record, sample = np.asarray(record), np.asarray(sample)
    runs = []
    for r in np.unique(record):
        idx = np.flatnonzero(record == r)
        runs.append(idx[np.argsort(sample[idx], kind="stable")])
    return runs
