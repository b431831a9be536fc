"""Beat sets from MIT-BIH records, their cache, and the intra- / inter-patient splits."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .dsp.beats import BeatParams, cut, rr_features
from .dsp.context import PatientContext
from .errors import EcgbeatError, check_seed, first_line, is_real
from .io.atomic import atomic_path, make_folder
from .io.mitdb import Record, check_labelled_records, read_record, resolve_mitdb
from .labels import CLASSES, DS1, DS2, MITDB_RECORDS, SYMBOL_TO_CLASS
from .types import BeatSet, Split

CACHE_VERSION = 2
SPLITS = ("intra", "inter")


def beats_from_record(record: Record, params: BeatParams = BeatParams()) -> BeatSet:
    """Annotated beats of one record, cut like the Kaggle beats (Kachuee et al. 2018).

    The lead is resampled to ``params.fs`` with ``wfdb.processing.resample_singlechan`` (which
    moves the annotations along), then :func:`ecgbeat.dsp.beats.cut` cuts each annotated beat
    (``params.scaling``: the Kaggle windows, or past-only windows for streaming). Annotations
    that are not beats are dropped; beat symbols map to the AAMI
    classes through :data:`ecgbeat.labels.SYMBOL_TO_CLASS`.
    """
    import wfdb
    import wfdb.processing

    is_beat = np.array([s in SYMBOL_TO_CLASS for s in record.ann_symbol], dtype=bool)
    samples = record.ann_sample[is_beat]
    symbols = record.ann_symbol[is_beat]
    signal = np.nan_to_num(record.signal_mV)
    if record.fs != params.fs:
        ann = wfdb.Annotation(record_name=record.name, extension="atr", sample=samples,
                              symbol=list(symbols))
        signal, moved = wfdb.processing.resample_singlechan(signal, ann, record.fs, params.fs)
        peaks = np.asarray(moved.sample, dtype=np.int64)
    else:
        peaks = samples.copy()
    keep = (peaks >= 0) & (peaks < len(signal))
    peaks, samples, symbols = peaks[keep], samples[keep], symbols[keep]
    X = cut(signal, peaks, params)
    y = np.array([CLASSES.index(SYMBOL_TO_CLASS[s]) for s in symbols], dtype=np.int64)
    rr = rr_features(samples, record.fs)
    template, long_rr = PatientContext(params.template_beats, params.long_rr_beats).update(X, rr[:, 0])
    return BeatSet(
        X=X, y=y, record=np.full(len(X), record.name, dtype=object), sample=samples,
        rr_s=rr, long_rr_s=long_rr, template=template, fs=params.fs, classes=CLASSES,
    )


def concat(sets: list[BeatSet]) -> BeatSet:
    """One BeatSet from several with the same ``fs`` and classes."""
    if not sets:
        raise ValueError("nothing to concatenate")
    return BeatSet(
        X=np.concatenate([s.X for s in sets]), y=np.concatenate([s.y for s in sets]),
        record=np.concatenate([s.record for s in sets]),
        sample=np.concatenate([s.sample for s in sets]),
        rr_s=np.concatenate([s.rr_s for s in sets]), long_rr_s=np.concatenate([s.long_rr_s for s in sets]),
        template=(None if any(s.template is None for s in sets)
                  else np.concatenate([s.template for s in sets])),
        fs=sets[0].fs, classes=sets[0].classes,
    )


def build_beats(
    records: Iterable[str] = MITDB_RECORDS,
    mitdb: str | os.PathLike | None = None,
    params: BeatParams = BeatParams(),
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> BeatSet:
    """Rebuild the Kaggle heartbeat beats from raw MIT-BIH records.

    Lead MLII (the first lead where a record has none), resampled to 125 Hz, 10-s windows scaled
    to [0, 1], each annotated beat cut from its R peak for 1.2 x the window's median RR,
    truncated / zero-padded to 187 samples, AAMI classes N, S, V, F, Q. Every beat keeps its
    record name and R-peak sample index.

    With ``cache_dir``, the result is stored as ``.npz`` under a key made of the record files'
    contents and ``params``, and reused until either changes.

    Every record needs its reference annotations (``.atr``): an empty record name, a missing
    ``.hea`` or ``.atr`` file is a one-line :class:`EcgbeatError` before anything is read, and so
    are a record named twice, ``records`` given as one string (``"100"``, not ``["100"]``) and a
    ``cache_dir`` that is a file. A cache that cannot be written is a warning: the beats are right.
    """
    records = _record_names(records)
    if not isinstance(params, BeatParams):
        raise EcgbeatError(f"params must be a BeatParams, got {type(params).__name__}")
    if cache_dir is not None:
        make_folder(cache_dir, "keep the beat cache there (cache_dir)")  # before any beat is built
    folder = resolve_mitdb(mitdb)
    check_labelled_records(folder, records)
    key = _cache_key(folder, records, params) if cache_dir is not None else None
    if key is not None:
        cached = _load_cache(Path(cache_dir) / f"beats-{key}.npz")
        if cached is not None:
            return cached
    iterator = records
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(records, desc="building beats", unit="record")
    beats = concat([beats_from_record(_labelled_record(folder, name), params) for name in iterator])
    if key is not None:
        try:
            _save_cache(Path(cache_dir) / f"beats-{key}.npz", beats)
        except OSError as exc:  # the beats are right; only the cache is missing
            warnings.warn(f"{cache_dir}: beats not cached ({exc.strerror or exc})", RuntimeWarning, stacklevel=2)
    return beats


def _labelled_record(folder: Path, name: str) -> Record:
    """:func:`read_record` with its annotations, at a rate an ECG can have (the R-peak detector's
    50..2000 Hz, which ``analyze`` asks too): a header that gives 10 Hz for 360 Hz samples would
    otherwise be "resampled" into nonsense beats without a word."""
    from .dsp.filters import FS_MAX_HZ, FS_MIN_HZ, validate_fs

    rec = read_record(folder, name, require_annotations=True)
    try:
        validate_fs(rec.fs)
    except ValueError:
        raise EcgbeatError(f"{Path(folder) / name}.hea: sampling rate {rec.fs:g} Hz is outside "
                           f"{FS_MIN_HZ:g}..{FS_MAX_HZ:g} Hz") from None
    return rec


def _record_names(records) -> list[str]:
    """``records`` as a list of names, or a one-line error: a plain string (``"100"`` would be read as
    records 1, 0, 0), nothing iterable, no names, or a name given twice (its beats would be taken
    twice, and an intra-patient split would put copies of test beats in training)."""
    if isinstance(records, (str, bytes)):
        raise EcgbeatError(f"records must be a list of record names, got the string {records!r}; "
                           f"write [{records!r}]")
    try:
        names = [str(r) for r in records]
    except TypeError:
        raise EcgbeatError(f"records must be a list of record names, got {records!r:.60}") from None
    if not names:
        raise EcgbeatError("no records given")
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise EcgbeatError(f"records: record {twice} given twice (its beats would be taken twice)")
    return names


def _cache_key(folder: Path, records: list[str], params: BeatParams) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_VERSION, records, params.to_dict()]).encode())
    for name in records:
        for ext in ("hea", "dat", "atr"):
            path = folder / f"{name}.{ext}"
            stat = path.stat() if path.exists() else None
            # size + mtime is enough to notice a changed file without hashing 100 MB each run
            digest.update(f"{name}.{ext}:{stat.st_size if stat else -1}:{stat.st_mtime_ns if stat else -1}".encode())
    return digest.hexdigest()[:16]


def _save_cache(path: Path, beats: BeatSet) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            template = beats.template if beats.template is not None else np.zeros((0, 0), np.float32)
            np.savez(fh, X=beats.X, y=beats.y, record=beats.record.astype(str),
                     sample=beats.sample, rr_s=beats.rr_s, long_rr_s=beats.long_rr_s, template=template,
                     fs=beats.fs, classes=np.array(beats.classes))


def _load_cache(path: Path) -> BeatSet | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return BeatSet(X=z["X"], y=z["y"], record=z["record"].astype(object), sample=z["sample"],
                           rr_s=z["rr_s"], long_rr_s=z["long_rr_s"],
                           template=z["template"] if z["template"].size else None,
                           fs=float(z["fs"]), classes=tuple(str(c) for c in z["classes"]))
    except Exception:
        return None  # a damaged cache is rebuilt, not trusted


def _strata(y: np.ndarray) -> np.ndarray | None:
    """Labels to stratify on: classes with fewer than 2 beats (a few records) join the largest."""
    counts = np.bincount(y, minlength=1)
    strata = np.where(counts[y] < 2, counts.argmax(), y)
    return strata if len(np.unique(strata)) > 1 else None


def _record_fold(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One fold of ``StratifiedGroupKFold`` as (fit, validation) positions: fold ``seed % n_splits``,
    or the next one that leaves at least half of every class's beats for training (in DS1 a
    single record can hold most of a rare class: 208 has 90 % of the F beats)."""
    from sklearn.model_selection import StratifiedGroupKFold

    with warnings.catch_warnings():  # "least populated class has only k members": expected for Q, F
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = list(StratifiedGroupKFold(n_splits=n_splits).split(np.zeros(len(y)), y, groups))
    total = np.bincount(y, minlength=int(y.max()) + 1)
    for k in range(n_splits):
        fit, val = folds[(seed + k) % n_splits]
        if (np.bincount(y[fit], minlength=len(total)) * 2 >= total).all():
            return fit, val
    return folds[seed % n_splits]


#: Default validation share per split: of the training beats (intra) or of the DS1 records (inter).
VAL_FRACTION = {"intra": 0.1, "inter": 0.2}


def split_beats(beats: BeatSet, split: str = "intra", seed: int = 0, val_fraction: float | None = None,
                test_fraction: float = 0.2, val_by: str | None = None,
                val_records: Sequence[str] | None = None) -> Split:
    """Train / validation / test sets.

    ``intra``: stratified random split of all beats, ``test_fraction`` for test (the Kaggle
    protocol: 80 / 20). ``inter``: de Chazal et al. 2004, DS1 records train, DS2 records test,
    paced records excluded. In both, validation comes from the training part only, so the test
    set never takes part in model selection.

    ``val_by="beat"`` (the default for ``intra``) takes a stratified ``val_fraction`` of the
    training beats. ``val_by="record"`` (the default for ``inter``) holds out whole training
    records, about ``val_fraction`` of them (one fold of scikit-learn's ``StratifiedGroupKFold``,
    which keeps the class mix close to the whole), so that validation, like the test, measures
    patients the model has never seen; with fewer than two training records it falls back to
    beats. ``val_fraction`` defaults to :data:`VAL_FRACTION` of the split.

    ``val_records`` names the held-out training records instead (scikit-learn's ``PredefinedSplit``
    idea): every named record must be a training record and at least one must stay for training.
    Cross-validation over records uses it for the folds the seed-drawn fold skips (in DS1 the fold
    with 208, which holds 90 % of the F beats).

    ``seed`` must be a whole number from 0 to 2**32 - 1 (as ``TrainConfig`` and ``--seed``), the
    fractions numbers strictly between 0 and 1 (0.2, not 20), and ``beats`` non-empty and labelled:
    anything else is a one-line :class:`EcgbeatError`.
    """
    if not isinstance(beats, BeatSet):
        raise EcgbeatError(f"split_beats needs a BeatSet, got {type(beats).__name__}")
    if len(beats) == 0:
        raise EcgbeatError("split_beats: the BeatSet holds no beats")
    unlabelled = int(((beats.y < 0) | (beats.y >= len(beats.classes))).sum())
    if unlabelled:
        raise EcgbeatError(f"split_beats needs labelled beats: {unlabelled} of {len(beats)} have no label "
                           f"in 0..{len(beats.classes) - 1} (y = -1: unlabelled, e.g. a CSV without labels)")
    seed = check_seed(seed, "seed")  # None would draw another split every time; sklearn refuses the rest deep inside
    test_fraction = _fraction("test_fraction", test_fraction)
    if split not in SPLITS:
        raise EcgbeatError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if val_by not in (None, "beat", "record"):
        raise EcgbeatError(f"unknown validation grouping {val_by!r}; choose beat or record")
    val_by = val_by or ("record" if split == "inter" or val_records is not None else "beat")
    wanted = None
    if val_records is not None:
        if isinstance(val_records, str):
            raise EcgbeatError(f"validation records must be a list of record names, got the string {val_records!r}")
        names = [str(r).strip() for r in val_records]
        if "" in names:
            raise EcgbeatError(f"validation records {list(val_records)!r}: empty record name")
        wanted = sorted(set(names))
        if not wanted:
            raise EcgbeatError("no validation records given")
        if split != "inter":
            raise EcgbeatError("validation records need the inter-patient split (the intra split draws its "
                               "test beats from every record)")
        if val_by != "record":
            raise EcgbeatError(f"validation records are given, so validation is by record, not by {val_by}")
    val_fraction = VAL_FRACTION[split] if val_fraction is None else _fraction("val_fraction", val_fraction)
    index = np.arange(len(beats))
    if split == "intra":
        train_idx, test_idx = _train_test_split(index, test_fraction, seed, beats.y, "test_fraction")
        info = {"test_fraction": test_fraction}
    else:
        train_idx = index[np.isin(beats.record, DS1)]
        test_idx = index[np.isin(beats.record, DS2)]
        if len(train_idx) == 0 or len(test_idx) == 0:
            raise EcgbeatError("inter-patient split needs records of both DS1 and DS2")
        info = {"train_records": sorted(set(beats.record[train_idx])),
                "test_records": sorted(set(beats.record[test_idx]))}
    groups = beats.record[train_idx].astype(str)
    if wanted is not None:
        missing = [r for r in wanted if r not in set(groups.tolist())]
        if missing:
            raise EcgbeatError(f"validation record(s) {', '.join(missing)} not among the training records of "
                               f"the {split} split ({', '.join(sorted(set(groups.tolist())))})")
        val_pos = np.flatnonzero(np.isin(groups, wanted))
        if len(val_pos) == len(groups):
            raise EcgbeatError(f"validation records {', '.join(wanted)} leave no training record")
        fit_idx, val_idx = np.delete(train_idx, val_pos), train_idx[val_pos]
        info["val_records"], info["val_records_given"] = wanted, True
        val_fraction = None  # the records, not a share, decide
    elif val_by == "record" and len(np.unique(groups)) >= 2:
        n_splits = int(np.clip(round(1.0 / val_fraction), 2, len(np.unique(groups))))
        fit_pos, val_pos = _record_fold(beats.y[train_idx], groups, n_splits, seed)
        fit_idx, val_idx = train_idx[fit_pos], train_idx[val_pos]
        info["val_records"] = sorted(str(g) for g in set(groups[val_pos]))
    else:
        val_by = "beat"
        fit_idx, val_idx = _train_test_split(train_idx, val_fraction, seed, beats.y[train_idx], "val_fraction")
    info.update({"val_by": val_by, "val_fraction": val_fraction, "n_train": len(fit_idx),
                 "n_val": len(val_idx), "n_test": len(test_idx)})
    return Split(train=beats.subset(np.sort(fit_idx)), val=beats.subset(np.sort(val_idx)),
                 test=beats.subset(np.sort(test_idx)), name=split, seed=seed, info=info)


def _fraction(name: str, value) -> float:
    """``value`` when a number strictly between 0 and 1 (20 meaning 20 % is refused, not taken as 20 beats)."""
    if not is_real(value) or not 0.0 < value < 1.0:
        percent = is_real(value) and 1 < value < 100 and float(value).is_integer()
        hint = f" (for {float(value):g} % write {float(value) / 100:g})" if percent else ""
        raise EcgbeatError(f"{name} must be a number strictly between 0 and 1, got {value!r}{hint}")
    return float(value)


def _train_test_split(index: np.ndarray, fraction: float, seed: int, y: np.ndarray, name: str):
    """scikit-learn's stratified ``train_test_split`` of ``index``; a split it cannot make (too few
    beats for the fraction) is a one-line error naming ``name``."""
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(index, test_size=fraction, random_state=seed, stratify=_strata(y))
    except ValueError as exc:
        raise EcgbeatError(f"cannot split {len(index)} beats with {name} {fraction:g}: {first_line(exc)}") from None
