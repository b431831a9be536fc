"""Raw ECG in, labelled beats out: R peaks, beats cut as in training, classes, rhythm summary.

:func:`analyze_record` reads a record (WFDB, CSV, EDF or an :class:`~ecgbeat.io.signals.EcgSignal`),
finds the R peaks (:func:`ecgbeat.dsp.detect_r_peaks`), cuts one beat per peak exactly as the
checkpoint's training beats were cut (its :class:`~ecgbeat.dsp.beats.BeatParams`: resampled to
``fs``, min-max scaled windows, ``rr_factor`` x median RR, ``n_samples``), classifies them and
summarises the rhythm. :func:`write_outputs` writes the beat CSV, a WFDB annotation file, the
summary JSON and a strip plot. :mod:`ecgbeat.stream` does the same causally on a stream; both use
the helpers here, so they label the same beats the same way.

Window scaling: as the checkpoint's training beats (``BeatParams.scaling``, see
:mod:`ecgbeat.dsp.beats`): ``"fixed"`` windows from the record start (the Kaggle beats; a stream
waits up to ``window_s`` + 1.5 s for a beat's window to end) or ``"causal"`` past-only windows (a
stream decides about one beat length after the R peak). ``AnalyzeConfig.scaling`` overrides it,
e.g. to run a "fixed"-trained model with stream latency, at the price of beats cut unlike the
training beats.

Preprocessing shared with training: no filtering of the beat signal (the training beats were cut
from the raw lead); resampling is polyphase (``scipy.signal.resample_poly``) instead of the FFT
resampling of the whole record used to build the training beats (the same band-limited signal,
but computable on a stream); R-peak positions map to ``fs`` by truncation, as for the training
beats (``sample * up // down``). The R-peak detector filters its own copy of the signal (band-pass).

Unreadable input: NaN samples and flat blocks (``block_s`` blocks whose peak-to-peak amplitude is
at most ``flat_tol_mV``: lead off, ADC saturation) are unreadable. They are excluded from the
window scaling; a beat whose span (``pre_s`` before the R peak to its end) touches them, or that
the end of the signal cuts short, is labelled ``"unreadable"`` instead of a class.
"""

from __future__ import annotations

import functools
import os
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from .dsp.beats import SCALINGS, BeatParams, beat_length, cut_causal, rr_features, segment_beats
from .dsp.context import PatientContext
from .dsp.rhythm import RhythmTracker, af_like
from .errors import EcgbeatError, is_finite_real, is_whole
from .io.signals import EcgSignal, check_options, read_signal, record_name
from .labels import CLASSES, SYMBOL_TO_CLASS

UNREADABLE = "unreadable"
#: AAMI classes whose letter is also a standard WFDB beat code (written as is; others as "Q").
WFDB_BEAT_CODES = frozenset("NSVFQ")


@dataclass(frozen=True)
class AnalyzeConfig:
    """Settings of the analysis that are not in the checkpoint.

    Attributes
    ----------
    scaling : {None, "fixed", "causal"}
        Window scaling; None (default): the checkpoint's (see the module docstring).
    block_s : float
        Block length of the flat-line test, s.
    flat_tol_mV : float
        A block whose peak-to-peak amplitude is at most this is flat (unreadable).
    pre_s : float
        A beat is unreadable when unreadable samples lie within ``pre_s`` before its R peak.
    max_next_rr_s : float
        A next RR longer than this counts as unknown (a stream cannot wait for ever).
    pause_s : float
        RR intervals longer than this are pauses.
    min_cycles : int
        Bigeminy / trigeminy episodes need at least this many ectopic beats in pattern.
    adapt : str or None
        "ITERS:STRENGTH:HELD": re-weight each beat's probabilities to the patient's class mix,
        estimated from the earlier beats (:class:`ecgbeat.predict.CausalAdapter`; needs the
        checkpoint's ``train_prior``). Applied before the AF gate.
    af_gate : bool
        Move the S probability of beats in an atrial-fibrillation-like stretch of rhythm to N
        (:func:`ecgbeat.predict.gate_af`, :mod:`ecgbeat.dsp.rhythm`; causal, so a stream agrees).
        The detector leaves out the RR intervals next to beats the model calls V.
    smooth : float or None
        Beat-to-beat smoothing strength in [0, 1] (:class:`ecgbeat.smoothing.BeatSmoother`, forward
        filtering through the class-to-class transitions of the model's training beats; needs the
        checkpoint's ``train_prior`` and ``train_transitions``), after the AF gate.
    self_train : str or None
        "CONFIDENCE:C": per-patient self-training (:class:`ecgbeat.self_training.SelfTrainer`) on
        the patient's earlier confident beats, after adaptation and the AF gate (applied again).
    """

    scaling: str | None = None
    block_s: float = 0.25
    flat_tol_mV: float = 0.002
    pre_s: float = 0.1
    max_next_rr_s: float = 3.0
    pause_s: float = 2.0
    min_cycles: int = 3
    adapt: str | None = None
    af_gate: bool = False
    smooth: float | None = None
    self_train: str | None = None

    def __post_init__(self):
        if self.scaling is not None and self.scaling not in SCALINGS:
            raise EcgbeatError(f"scaling must be one of {', '.join(SCALINGS)}, got {self.scaling!r}")
        # a zero, negative or NaN block or tolerance would mark every beat unreadable, silently
        for name, low, strict in (("block_s", 0.0, True), ("flat_tol_mV", 0.0, False), ("pre_s", 0.0, False),
                                  ("max_next_rr_s", 0.0, True), ("pause_s", 0.0, True)):
            _check_number(f"AnalyzeConfig {name}", getattr(self, name), low, strict)
        cycles = self.min_cycles
        if not is_whole(cycles) or cycles < 1:
            raise EcgbeatError(f"AnalyzeConfig min_cycles must be a whole number >= 1, got {cycles!r}")
        if not isinstance(self.af_gate, (bool, np.bool_)):  # "no" is truthy: it would switch the gate on
            raise EcgbeatError(f"AnalyzeConfig af_gate must be True or False, got {self.af_gate!r}")
        for name in ("adapt", "self_train"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise EcgbeatError(f"AnalyzeConfig {name} must be a string or None, got {value!r}")
        if self.smooth is not None:  # "1" from the command line: a number, checked
            from .smoothing import parse_smoothing

            object.__setattr__(self, "smooth", parse_smoothing(self.smooth))


def _check_number(what: str, value, low: float, strict: bool) -> None:
    """``value`` is a finite real number above ``low`` (``strict``) or at least ``low``, else a one-line error."""
    if not is_finite_real(value) or (value <= low if strict else value < low):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise EcgbeatError(f"{what} must be a finite number {bound}, got {value!r}")


def as_config(config) -> AnalyzeConfig:
    """An :class:`AnalyzeConfig` from ``config``: None (the defaults), an AnalyzeConfig, or a dict of its fields."""
    if config is None:
        return AnalyzeConfig()
    if isinstance(config, AnalyzeConfig):
        return config
    if isinstance(config, dict):
        from dataclasses import fields

        names = [f.name for f in fields(AnalyzeConfig)]
        unknown = [k for k in config if k not in names]
        if unknown:
            raise EcgbeatError(f"config: unknown AnalyzeConfig setting {unknown[0]!r}; the settings are "
                               f"{', '.join(names)}")
        return AnalyzeConfig(**config)
    raise EcgbeatError(f"config must be an AnalyzeConfig (or a dict of its settings), got {type(config).__name__}")


def as_signal(source, lead=None, fs: float | None = None, units: str | None = None) -> EcgSignal:
    """The :class:`EcgSignal` of ``source``: a record file (:func:`read_signal` with ``lead``, ``fs``,
    ``units``), an EcgSignal (which keeps its own rate, lead and units: options contradicting them are
    refused), or one lead of samples in memory (a 1-D array, list or pandas Series;
    :func:`~ecgbeat.io.signals.signal_from_array`, which needs ``fs``)."""
    if isinstance(source, EcgSignal):
        return check_options(source, lead, fs, units)
    if isinstance(source, (str, os.PathLike)):
        return read_signal(source, lead=lead, fs=fs, units=units)
    if source is None or isinstance(source, (bytes, bytearray, dict, set)) or not (
            hasattr(source, "__array__") or hasattr(source, "__len__")):
        raise EcgbeatError(f"source must be a record file path, an EcgSignal or a 1-D array of samples (with fs), "
                           f"got {type(source).__name__}")
    if fs is None:
        raise EcgbeatError(f"a signal in memory ({type(source).__name__}) needs its sampling frequency: pass fs=HZ, "
                           "or an EcgSignal from ecgbeat.signal_from_array(samples, fs)")
    if lead is not None and not isinstance(lead, str):
        raise EcgbeatError(f"lead of a signal in memory is its name (a string), got {lead!r}")
    from .io.signals import signal_from_array

    return signal_from_array(source, fs, lead=lead or "", units=units)


def check_reference(ann_sample, ann_symbol, n_samples: int | None = None, where: str = "signal") -> None:
    """Reference annotations as :func:`compare_with_reference` needs them: as many symbols as
    sample locations, whole sample numbers, not decreasing, inside the signal (``n_samples``)."""
    sample, symbol = np.asarray(ann_sample), np.asarray(ann_symbol, dtype=object)
    if sample.ndim != 1 or symbol.ndim != 1 or len(sample) != len(symbol):
        raise EcgbeatError(f"{where}: ann_sample ({len(sample) if sample.ndim else 'scalar'}) and ann_symbol "
                           f"({len(symbol) if symbol.ndim else 'scalar'}) must be 1-D and of the same length")
    if not len(sample):
        return
    if sample.dtype.kind not in "iu" and not (
            sample.dtype.kind == "f" and np.isfinite(sample).all() and (sample == np.round(sample)).all()):
        raise EcgbeatError(f"{where}: ann_sample must hold whole sample numbers, got dtype {sample.dtype}")
    outside = (sample < 0) | (sample >= n_samples if n_samples is not None else False)
    if outside.any():
        raise EcgbeatError(f"{where}: ann_sample holds a sample outside the signal of {n_samples} samples: "
                           f"{int(sample[outside][0])}")
    if (np.diff(sample) < 0).any():
        raise EcgbeatError(f"{where}: ann_sample must not decrease (sorted sample locations)")


@dataclass
class AnalysisResult:
    """Labelled beats and rhythm summary of one record.

    Attributes
    ----------
    signal : EcgSignal
        The input lead (mV).
    classes : tuple of str
    sample : ndarray of int64
        R-peak sample indices at ``signal.fs``.
    label : ndarray of str
        Class letter per beat, or ``"unreadable"``.
    proba : ndarray, shape (n_beats, n_classes), float32
        Class probabilities; NaN rows for unreadable beats.
    unreadable : list of (int, int)
        Unreadable segments as [start, stop) sample indices.
    summary : dict
        Rhythm summary (JSON-ready), see :func:`rhythm_summary`.
    timings_s : dict
        Seconds spent per step.
    """

    signal: EcgSignal
    classes: tuple[str, ...]
    sample: np.ndarray
    label: np.ndarray
    proba: np.ndarray
    unreadable: list
    summary: dict
    timings_s: dict = field(default_factory=dict)

    @property
    def time_s(self) -> np.ndarray:
        return self.sample / self.signal.fs

    def beats(self) -> list[dict]:
        """One dict per beat: sample, time_s, class, probabilities (as :mod:`ecgbeat.stream`)."""
        return [beat_dict(int(s), self.signal.fs, str(lab), p, self.classes)
                for s, lab, p in zip(self.sample, self.label, self.proba)]


# --------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------


def analyze_record(source, checkpoint_or_model, config: AnalyzeConfig | None = None,
                   lead: str | None = None, fs: float | None = None,
                   units: str | None = None) -> AnalysisResult:
    """Detect, cut, classify and summarise every beat of a raw ECG record.

    Parameters
    ----------
    source : str, os.PathLike, EcgSignal or array_like
        A record file (see :func:`ecgbeat.io.signals.read_signal`), a signal in memory, or one lead
        of samples (1-D array, list, pandas Series; needs ``fs``; see :func:`as_signal`).
    checkpoint_or_model : str, os.PathLike, (nn.Module, dict) or nn.Module
        A checkpoint path, a ``(model, meta)`` pair from :func:`ecgbeat.checkpoint.load_checkpoint`,
        or a bare model (then the default :class:`BeatParams` and AAMI classes apply).
    config : AnalyzeConfig or dict, optional
    lead, fs, units : optional
        Passed to :func:`read_signal` when ``source`` is a path (to
        :func:`~ecgbeat.io.signals.signal_from_array` when it is an array). An :class:`EcgSignal`
        keeps its own: options that contradict it are refused (:func:`as_signal`).

    Returns
    -------
    AnalysisResult

    Raises
    ------
    EcgbeatError
        Unreadable input, a sampling rate outside 50..2000 Hz, a signal shorter than 2 s.
    """
    config = as_config(config)
    t0 = time.perf_counter()
    sig = as_signal(source, lead=lead, fs=fs, units=units)
    if len(sig.ann_sample) or len(sig.ann_symbol):
        check_reference(sig.ann_sample, sig.ann_symbol, len(sig.signal_mV), sig.path or sig.name)
    model, meta = load_model(checkpoint_or_model)
    t1 = time.perf_counter()
    try:
        plan = Plan.make(sig.fs, beat_params(meta), config)
    except EcgbeatError as exc:  # name the recording
        raise EcgbeatError(f"{sig.path or sig.name}: {exc}") from None
    check_duration(len(sig.signal_mV), sig.fs, sig.name)
    y, bad, peaks = prepare_signal(sig.signal_mV, plan, sig.name)
    t2 = time.perf_counter()
    X, readable, rr, peaks = cut_beats(y, peaks, plan)
    t3 = time.perf_counter()
    proba, af = classify(model, meta, X, rr, readable, patient_context(model, meta, config),
                         rhythm_tracker(meta, config), class_mix_adapter(meta, config), self_trainer(meta, config),
                         beat_smoother(meta, config))
    t4 = time.perf_counter()
    classes = tuple(meta["classes"])
    label = labels_of(proba, classes)
    segments = mask_runs(bad)
    summary = {**_header(sig, meta, config),
               **rhythm_summary(peaks, label, sig.fs, len(sig.signal_mV), segments, classes, config, af)}
    if len(sig.ann_sample):
        summary["reference"] = compare_with_reference(peaks, label, sig.ann_sample, sig.ann_symbol,
                                                      sig.fs, classes)
    timings = {"read_s": t1 - t0, "detect_s": t2 - t1, "cut_s": t3 - t2, "classify_s": t4 - t3}
    return AnalysisResult(signal=sig, classes=classes, sample=peaks, label=label, proba=proba,
                          unreadable=segments, summary=summary, timings_s=timings)


def prepare_signal(x: np.ndarray, plan: Plan, name: str = "signal") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unreadable mask, the signal at the beat rate (NaN where unreadable) and the R peaks.

    Returns
    -------
    y : ndarray
        The signal at ``plan.params.fs``; NaN within ``plan.margin`` input samples of an
        unreadable sample.
    bad : ndarray of bool
        Unreadable input samples (:func:`unreadable_mask`).
    peaks : ndarray of int64
        R peaks at the input rate (:func:`detect_peaks`).
    """
    bad = unreadable_mask(x, plan)
    y = resample(x, plan)
    y[mask_target(bad, plan, 0, len(y))] = np.nan
    return y, bad, detect_peaks(x, plan.fs_in, name)


def cut_beats(y: np.ndarray, peaks: np.ndarray, plan: Plan):
    """Beats of a whole signal, cut with ``plan.scaling``.

    Returns the beats (n, n_samples), whether each is readable, the RR features (n, 3) and the
    R peaks kept (those inside ``y``).
    """
    peaks_t = to_target(peaks, plan)
    keep = peaks_t < len(y)
    peaks, peaks_t = peaks[keep], peaks_t[keep]
    cut = cut_fixed if plan.scaling == "fixed" else cut_causal
    X, length = cut(y, 0, peaks_t, np.arange(len(peaks)), plan.params, len(y))
    readable = beats_readable(y, 0, peaks_t, length, plan, len(y))
    return X, readable, beat_rr_features(peaks, plan.fs_in, plan.config), peaks


def write_outputs(result: AnalysisResult, out_dir: str | os.PathLike, plot: bool = True,
                  annotation_ext: str = "ecgb", annotation_dir: str | os.PathLike | None = None) -> dict:
    """Write ``NAME_beats.csv``, ``NAME.<annotation_ext>`` (WFDB), ``NAME_summary.json`` and
    ``NAME_strip.png`` (with ``plot``), each atomically.

    Parameters
    ----------
    result : AnalysisResult
    out_dir : str or os.PathLike
        Output folder (created).
    plot : bool, default True
        Draw the strip plot (matplotlib; the slowest output).
    annotation_ext : str, default "ecgb"
        Extension of the WFDB annotation file.
    annotation_dir : str or os.PathLike, optional
        Folder for the annotation file (e.g. beside the record); default ``out_dir``.

    Returns
    -------
    dict
        Output kind -> path.
    """
    from .io.atomic import make_folder, write_json_atomic

    # everything checked before anything is written: no half-written set of outputs
    if not isinstance(result, AnalysisResult):
        raise EcgbeatError(f"write_outputs() takes the AnalysisResult of analyze_record, got {type(result).__name__}")
    if not isinstance(plot, (bool, np.bool_)):
        raise EcgbeatError(f"plot must be True or False, got {plot!r}")
    for what, folder in (("out_dir", out_dir), ("annotation_dir", annotation_dir)):
        if (folder is not None or what == "out_dir") and not isinstance(folder, (str, os.PathLike)):
            raise EcgbeatError(f"{what} must be a folder path, got {type(folder).__name__}")
    out = Path(out_dir)
    name = _safe_name(result.signal.name)
    ann_dir = Path(annotation_dir or out)
    _check_annotation_target(result, ann_dir / f"{name}.{annotation_ext}", annotation_ext)
    targets = [out / f"{name}_beats.csv", ann_dir / f"{name}.{annotation_ext}", out / f"{name}_summary.json"]
    for target in targets + ([out / f"{name}_strip.png"] if plot else []):
        if target.is_dir():  # found now, not after the outputs before it were written
            raise EcgbeatError(f"{target}: is a folder; cannot write output there")
    for folder in dict.fromkeys((out, ann_dir)):
        make_folder(folder, "write output")
    try:
        paths = {"csv": write_beats_csv(result, out / f"{name}_beats.csv"),
                 "annotations": write_annotations(result, ann_dir, name, annotation_ext)}
        if plot:
            paths["plot"] = write_strip_plot(result, out / f"{name}_strip.png")
        summary = {**result.summary, "outputs": {k: str(v) for k, v in paths.items()}}
        paths["summary"] = write_json_atomic(out / f"{name}_summary.json", summary)
    except OSError as exc:
        raise EcgbeatError(f"{exc.filename or out}: cannot write output ({exc.strerror or exc})") from None
    return {k: str(v) for k, v in paths.items()}


# --------------------------------------------------------------------------------------------
# model and preprocessing plan
# --------------------------------------------------------------------------------------------


def load_model(checkpoint_or_model):
    """``(model, meta)`` from a checkpoint path, a ``(model, meta)`` pair or a bare model."""
    if isinstance(checkpoint_or_model, (str, os.PathLike)):
        from .checkpoint import load_checkpoint

        return load_checkpoint(checkpoint_or_model)
    if isinstance(checkpoint_or_model, tuple) and len(checkpoint_or_model) == 2:
        model, meta = checkpoint_or_model
    else:
        model, meta = checkpoint_or_model, {}
    meta = {"classes": list(CLASSES), "preprocessing": BeatParams().to_dict(),
            "model": getattr(model, "model_name", type(model).__name__), **meta}
    model.eval()
    return model, meta


def beat_params(meta: dict) -> BeatParams:
    """The :class:`BeatParams` stored in a checkpoint's metadata."""
    return BeatParams.from_dict(meta.get("preprocessing") or {})


@dataclass(frozen=True)
class Plan:
    """Constants derived from the input rate, the beat parameters and the config.

    ``up / down`` is the resampling ratio ``params.fs / fs_in``; ``margin`` (input samples)
    covers the resampling filter, so a target sample is unreadable when an unreadable input
    sample lies within ``margin`` of it; ``window`` and ``pre`` are in target samples,
    ``block`` in input samples.
    """

    fs_in: float
    params: BeatParams
    config: AnalyzeConfig
    up: int
    down: int
    window: int
    pre: int
    block: int

    @property
    def scaling(self) -> str:
        """The window scaling in use: the config's override, else the training beats'."""
        return self.config.scaling or self.params.scaling

    @property
    def half(self) -> int:
        """Half length of the resampling filter (:func:`fir_taps`), target-rate-times-up samples;
        0 when no resampling is needed."""
        return 10 * max(self.up, self.down) if self.up != self.down else 0

    @property
    def margin(self) -> int:
        """Input samples the resampling filter reaches (0 without resampling)."""
        return int(np.ceil(self.half / self.up)) + 1 if self.up != self.down else 0

    @classmethod
    def make(cls, fs_in: float, params: BeatParams, config: AnalyzeConfig) -> Plan:
        fs_in = check_fs(fs_in)
        ratio = Fraction(params.fs / fs_in).limit_denominator(1000)
        up, down = ratio.numerator, ratio.denominator
        return cls(fs_in=fs_in, params=params, config=config, up=up, down=down,
                   window=int(round(params.window_s * params.fs)),
                   pre=int(round(config.pre_s * params.fs)),
                   block=max(1, int(round(config.block_s * fs_in))))


def check_fs(fs: float) -> float:
    """A sampling rate the R-peak detector accepts (50..2000 Hz), else a one-line error."""
    from .dsp.filters import FS_MAX_HZ, FS_MIN_HZ, validate_fs

    try:
        return validate_fs(fs)  # the detector's own rule, reported as a user error
    except ValueError:
        if not is_finite_real(fs):
            raise EcgbeatError(f"sampling rate must be a finite number of Hz, got {fs!r}") from None
        raise EcgbeatError(f"sampling rate {fs} Hz is outside {FS_MIN_HZ:g}..{FS_MAX_HZ:g} Hz") from None


def check_duration(n: int, fs: float, name: str, min_s: float = 2.0) -> None:
    if n < min_s * fs:
        raise EcgbeatError(f"{name}: signal too short ({n / fs:.2f} s; at least {min_s:g} s needed)")


def detect_peaks(x: np.ndarray, fs: float, name: str = "signal") -> np.ndarray:
    """R peaks of the whole signal (:func:`ecgbeat.dsp.detect_r_peaks`), errors as one line."""
    from .dsp import detect_r_peaks

    try:
        return np.asarray(detect_r_peaks(x, fs), dtype=np.int64)
    except ValueError as exc:
        raise EcgbeatError(f"{name}: {exc}") from None


# --------------------------------------------------------------------------------------------
# pure numpy helpers shared with ecgbeat.stream
# --------------------------------------------------------------------------------------------


def unreadable_mask(x: np.ndarray, plan: Plan, start: int = 0) -> np.ndarray:
    """True at NaN samples and in flat blocks; blocks start at multiples of ``plan.block``.

    ``start`` is the absolute index of ``x[0]`` (a multiple of ``plan.block``); a last,
    incomplete block is judged on the samples it has.
    """
    x = np.asarray(x, dtype=np.float64)
    bad = np.isnan(x)
    b = plan.block
    if start % b:
        raise ValueError("unreadable_mask: start must be a multiple of the block length")
    n_full = len(x) // b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks
        if n_full:
            blocks = x[: n_full * b].reshape(n_full, b)
            flat = ~(np.nanmax(blocks, axis=1) - np.nanmin(blocks, axis=1) > plan.config.flat_tol_mV)
            bad[: n_full * b] |= np.repeat(flat, b)
        if len(x) > n_full * b:
            tail = x[n_full * b:]
            bad[n_full * b:] |= not (np.nanmax(tail) - np.nanmin(tail) > plan.config.flat_tol_mV)
    return bad


def resample(x: np.ndarray, plan: Plan) -> np.ndarray:
    """The whole signal at ``plan.params.fs`` (polyphase; NaN samples count as 0 here and are
    masked afterwards with :func:`mask_target`). Beyond its ends the signal is taken to stay at its
    first and last sample (``padtype="edge"``), not to drop to 0: a signal with a DC offset would
    otherwise start with a step that distorts the first beats and the first window's scaling."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0)
    if plan.up == plan.down:
        return x.copy()
    return resample_polyphase(x, plan.up, plan.down)


def resample_polyphase(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """``scipy.signal.resample_poly`` with :func:`fir_taps`, edges held at the end samples (what
    :func:`resample` and the stream's resampling share)."""
    from scipy.signal import resample_poly

    return resample_poly(x, up, down, window=fir_taps(up, down), padtype="edge")


@functools.lru_cache(maxsize=8)
def fir_taps(up: int, down: int) -> np.ndarray:
    """The low-pass filter ``scipy.signal.resample_poly`` designs by default (Kaiser, beta 5),
    computed once (designing it costs more than filtering a one-second chunk)."""
    from scipy.signal import firwin

    half = 10 * max(up, down)
    taps = firwin(2 * half + 1, 1.0 / max(up, down), window=("kaiser", 5.0))
    taps.setflags(write=False)
    return taps


def mask_target(bad: np.ndarray, plan: Plan, j0: int, j1: int, i0: int = 0, n_in: int | None = None) -> np.ndarray:
    """Which target samples ``j0 .. j1 - 1`` lie within ``plan.margin`` input samples of an
    unreadable input sample. ``bad`` starts at absolute input index ``i0``; ``n_in`` is the
    total input length (default ``i0 + len(bad)``)."""
    n_in = i0 + len(bad) if n_in is None else n_in
    j = np.arange(j0, j1, dtype=np.int64)
    lo = (j * plan.down) // plan.up - plan.margin
    hi = -((-j * plan.down) // plan.up) + plan.margin  # ceil
    lo = np.clip(lo, 0, n_in - 1) - i0
    hi = np.clip(hi, 0, n_in - 1) - i0
    if (len(j) and (lo.min() < 0 or hi.max() >= len(bad))):
        raise ValueError("mask_target: unreadable mask does not cover the target samples")
    csum = np.concatenate([[0], np.cumsum(bad, dtype=np.int64)])
    return (csum[hi + 1] - csum[lo]) > 0


def to_target(samples: np.ndarray, plan: Plan) -> np.ndarray:
    """Sample indices at the input rate -> target rate, truncated as for the training beats
    (``wfdb.processing.resample_ann``), in exact integer arithmetic (``sample * up // down``)."""
    return (np.asarray(samples, dtype=np.int64) * plan.up) // plan.down


def cut_fixed(y: np.ndarray, y0: int, peaks_t: np.ndarray, index: np.ndarray, params: BeatParams,
              end: int) -> tuple[np.ndarray, np.ndarray]:
    """Beats ``peaks_t[index]`` cut by :func:`segment_beats`, one fixed window at a time.

    ``y`` holds target samples from absolute index ``y0``; ``end`` is the number of target
    samples that exist (the signal end, or further than any beat needs). Each window's beats are
    cut together with the window's own peaks only (all of ``peaks_t`` in that window).
    Returns the beats (n, n_samples) and their lengths (n,).
    """
    window = int(round(params.window_s * params.fs))
    X = np.zeros((len(index), params.n_samples), dtype=np.float32)
    length = np.zeros(len(index), dtype=np.int64)
    win_all = peaks_t // window
    win = win_all[index]
    for w in np.unique(win):
        rows = np.flatnonzero(win == w)
        members = peaks_t[win_all == w]
        a, b = int(w) * window, min((int(w) + 1) * window + params.n_samples, end)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
            cut = segment_beats(y[a - y0: b - y0], members - a, params)
        X[rows] = cut[np.searchsorted(members, peaks_t[index[rows]])]
        length[rows] = beat_length(np.diff(members), params)
    return X, length


def beats_readable(y: np.ndarray, y0: int, peaks_t: np.ndarray, length: np.ndarray, plan: Plan,
                   end: int) -> np.ndarray:
    """False for beats whose span (``pre`` before R to the beat end) holds an unreadable (NaN)
    target sample or runs past ``end`` (the end of the signal)."""
    peaks_t = np.asarray(peaks_t, dtype=np.int64)
    stop = peaks_t + np.asarray(length, dtype=np.int64)
    csum = np.concatenate([[0], np.cumsum(np.isnan(y), dtype=np.int64)])
    a = np.clip(np.maximum(peaks_t - plan.pre, 0) - y0, 0, len(y))
    b = np.clip(stop - y0, 0, len(y))
    return (stop <= end) & (csum[b] - csum[a] == 0)


def beat_rr_features(peaks: np.ndarray, fs: float, config: AnalyzeConfig) -> np.ndarray:
    """RR features of :func:`ecgbeat.dsp.beats.rr_features`; a next RR above
    ``config.max_next_rr_s`` counts as unknown (NaN), as on a stream."""
    rr = rr_features(peaks, fs)
    rr[rr[:, 1] > config.max_next_rr_s, 1] = np.nan
    return rr


def patient_context(model, meta: dict, config: AnalyzeConfig | None = None) -> PatientContext | None:
    """A fresh :class:`~ecgbeat.dsp.context.PatientContext` for a model that compares beats with
    the patient's earlier beats (a template channel or the "rr+context" features), or for any model
    when ``config.self_train`` is set (self-training compares each beat with the patient's template,
    as it does on beats cut offline); else None."""
    from .features import needs_context

    needed = needs_context(int(getattr(model, "n_features", 0) or 0), int(getattr(model, "in_channels", 1) or 1))
    if not needed and not (config is not None and config.self_train):
        return None
    params = beat_params(meta)
    return PatientContext(params.template_beats, params.long_rr_beats)


def classify(model, meta: dict, X: np.ndarray, rr_s: np.ndarray, readable: np.ndarray,
             context: PatientContext | None = None, rhythm: RhythmTracker | None = None,
             adapter=None, trainer=None, smoother=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Probabilities (n, n_classes) of the readable beats (NaN rows for the others), and with
    ``rhythm`` each beat's atrial-fibrillation-like flag, the one the AF gate used (else None).

    ``context`` (:func:`patient_context`), ``adapter`` (a :class:`~ecgbeat.predict.CausalAdapter`,
    :func:`class_mix_adapter`), ``rhythm`` (a :class:`~ecgbeat.dsp.rhythm.RhythmTracker` for the
    AF gate, :func:`rhythm_tracker`), ``smoother`` (a :class:`~ecgbeat.smoothing.BeatSmoother`,
    :func:`beat_smoother`) and ``trainer`` (a :class:`~ecgbeat.self_training.SelfTrainer`,
    :func:`self_trainer`; both after the gate, applied again after self-training) are updated with these beats,
    which must follow the beats of their earlier updates in time."""
    from .predict import gate_af, predict_proba, ventricular_calls
    from .types import BeatSet

    classes = tuple(meta["classes"])
    proba = np.full((len(X), len(classes)), np.nan, dtype=np.float32)
    template = long_rr = None
    if context is not None:
        template, long_rr = context.update(X, rr_s[:, 0], readable)
    idx = np.flatnonzero(readable)
    if len(idx):
        params = beat_params(meta)
        beats = BeatSet(X=X[idx], y=np.full(len(idx), -1, dtype=np.int64), rr_s=rr_s[idx],
                        long_rr_s=None if long_rr is None else long_rr[idx],
                        template=None if template is None else template[idx], fs=params.fs, classes=classes)
        proba[idx] = predict_proba(model, beats)
    if adapter is not None:
        proba = adapter.update(proba).astype(np.float32)
    af = None
    if rhythm is not None:
        af = rhythm.update(rr_s[:, 0], ventricular_calls(proba, classes))
        proba[idx] = gate_af(proba[idx], af[idx], classes)
    if smoother is not None:  # keeps a gated S probability at 0
        proba[idx] = smoother.update(proba[idx])
    if trainer is not None and len(idx):
        from .self_training import self_training_features

        proba[idx] = trainer.update(proba[idx], self_training_features(beats))
        if af is not None:
            proba[idx] = gate_af(proba[idx], af[idx], classes)
    return proba, af


def class_mix_adapter(meta: dict, config: AnalyzeConfig):
    """A fresh :class:`~ecgbeat.predict.CausalAdapter` when ``config.adapt`` is set; else None."""
    if not config.adapt:
        return None
    from .predict import CausalAdapter, parse_adaptation, train_prior_of

    return CausalAdapter(train_prior_of(meta), parse_adaptation(config.adapt, tuple(meta["classes"])))


def beat_smoother(meta: dict, config: AnalyzeConfig):
    """A fresh :class:`~ecgbeat.smoothing.BeatSmoother` when ``config.smooth`` is set; else None."""
    if config.smooth is None:
        return None
    from .predict import train_prior_of
    from .smoothing import BeatSmoother, transitions_of

    return BeatSmoother(transitions_of(meta), train_prior_of(meta), config.smooth)  # checked by AnalyzeConfig


def self_trainer(meta: dict, config: AnalyzeConfig):
    """A fresh :class:`~ecgbeat.self_training.SelfTrainer` when ``config.self_train`` is set; else None."""
    if not config.self_train:
        return None
    from .self_training import SelfTrainer, parse_self_training

    return SelfTrainer(len(meta["classes"]), **parse_self_training(config.self_train))


def rhythm_tracker(meta: dict, config: AnalyzeConfig) -> RhythmTracker | None:
    """A fresh :class:`~ecgbeat.dsp.rhythm.RhythmTracker` when ``config.af_gate`` is on; else None."""
    if not config.af_gate:
        return None
    from .predict import af_gate_classes

    af_gate_classes(tuple(meta["classes"]))  # a model without N and S: refused before any beat
    return RhythmTracker()


def labels_of(proba: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Class letter of the most probable class per row; ``"unreadable"`` for NaN rows."""
    label = np.full(len(proba), UNREADABLE, dtype=object)
    ok = ~np.isnan(proba).any(axis=1) if len(proba) else np.zeros(0, dtype=bool)
    label[ok] = np.asarray(classes, dtype=object)[proba[ok].argmax(axis=1)]
    return label


def beat_dict(sample: int, fs: float, label: str, proba_row: np.ndarray, classes: tuple[str, ...],
              latency_s: float | None = None, irregular_rhythm: bool | None = None) -> dict:
    """The JSON-ready record of one beat; ``irregular_rhythm``: the AF gate's flag, when it ran."""
    out = {"sample": int(sample), "time_s": round(sample / fs, 4), "class": label,
           "probabilities": None if label == UNREADABLE else
           {c: round(float(p), 5) for c, p in zip(classes, proba_row)}}
    if latency_s is not None:
        out["latency_s"] = round(float(latency_s), 4)
    if irregular_rhythm is not None:
        out["irregular_rhythm"] = bool(irregular_rhythm)
    return out


def mask_runs(bad: np.ndarray, offset: int = 0) -> list[tuple[int, int]]:
    """[start, stop) sample ranges where ``bad`` is true."""
    edges = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a) + offset, int(b) + offset) for a, b in zip(starts, stops)]


# --------------------------------------------------------------------------------------------
# rhythm summary
# --------------------------------------------------------------------------------------------


def rhythm_summary(sample: np.ndarray, label: np.ndarray, fs: float, n_samples: int,
                   unreadable: list, classes: tuple[str, ...], config: AnalyzeConfig,
                   irregular: np.ndarray | None = None) -> dict:
    """Beat counts, heart rate, ectopic burden, ectopic runs, pauses and unreadable segments.

    Parameters
    ----------
    sample : ndarray of int
        R-peak samples at ``fs``, sorted.
    label : ndarray of str
        Class letter or ``"unreadable"`` per beat.
    fs : float
    n_samples : int
        Signal length (samples).
    unreadable : list of (int, int)
        Unreadable [start, stop) ranges.
    classes : tuple of str
    config : AnalyzeConfig
    irregular : ndarray of bool, optional
        Per beat, the atrial-fibrillation-like flag the AF gate used (:func:`classify`); without
        it the flags are computed here from the labels.

    Returns
    -------
    dict
        ``beats_per_class`` (plus ``unreadable``), ``heart_rate_bpm`` (mean = 60 / mean RR; min
        and max over 10-RR moving averages, so one premature beat does not set them),
        ``ectopic_burden_percent`` (S and V of the classified beats), ``events`` per ectopic
        class (couplets, triplets, runs of >= 3 beats, bigeminy / trigeminy episodes with start
        and length), ``pauses`` (RR > ``pause_s``), ``unreadable_segments`` and
        ``irregular_rhythm``: the beats in an irregularly irregular, atrial-fibrillation-like stretch
        of RR intervals (:func:`ecgbeat.dsp.rhythm.af_like`, leaving out the intervals next to
        beats labelled V; with ``irregular``, the gate's own flags, whose detector left out the
        intervals next to the beats called V before the gate) as a percentage and as episodes; the
        detector needs 128 intervals, so an episode is reported up to 128 beats after its onset. RR
        intervals and ectopic patterns never span an unreadable segment or an unreadable beat.
    """
    sample = np.asarray(sample, dtype=np.int64)
    label = np.asarray(label, dtype=object)
    classified = label != UNREADABLE
    counts = {c: int((label == c).sum()) for c in classes}
    counts[UNREADABLE] = int((~classified).sum())
    n_cls = int(classified.sum())
    linked = _linked(sample, classified, unreadable)  # RR i -> i+1 usable
    rr_s = np.diff(sample) / fs
    burden = {c: round(100.0 * counts.get(c, 0) / n_cls, 3) if n_cls else None for c in ("S", "V")}
    events = {c: _ectopic_events(sample, label, linked, fs, c, config.min_cycles)
              for c in ("V", "S") if c in classes}
    pauses = [{"start_s": round(sample[i] / fs, 3), "duration_s": round(float(rr_s[i]), 3)}
              for i in np.flatnonzero(linked & (rr_s > config.pause_s))]
    bad_s = sum(b - a for a, b in unreadable) / fs
    if irregular is None:
        irregular = (af_like(np.concatenate([[np.nan], rr_s]), ectopic=label == "V") if len(sample)
                     else np.zeros(0, dtype=bool))
    elif len(irregular) != len(sample):
        raise ValueError(f"{len(sample)} beats but {len(irregular)} irregular-rhythm flags")
    return {
        "n_beats": int(len(sample)), "beats_per_class": counts,
        "heart_rate_bpm": _heart_rate(rr_s, linked),
        "ectopic_burden_percent": burden, "events": events, "pauses": pauses,
        "unreadable_s": round(bad_s, 3),
        "unreadable_percent": round(100.0 * bad_s * fs / n_samples, 3) if n_samples else 0.0,
        "unreadable_segments": [{"start_s": round(a / fs, 3), "end_s": round(b / fs, 3)}
                                for a, b in unreadable],
        "irregular_rhythm": {
            "percent_of_beats": round(100.0 * irregular.mean(), 3) if len(sample) else None,
            "episodes": [{"start_s": round(sample[a] / fs, 3), "end_s": round(sample[b - 1] / fs, 3),
                          "n_beats": int(b - a)} for a, b in mask_runs(irregular)]},
    }


def _linked(sample: np.ndarray, classified: np.ndarray, unreadable: list) -> np.ndarray:
    """True for consecutive beat pairs (i, i+1), both classified, with no unreadable sample
    between them."""
    if len(sample) < 2:
        return np.zeros(0, dtype=bool)
    ok = classified[:-1] & classified[1:]
    if unreadable:
        starts = np.array([a for a, _ in unreadable])
        # a segment starting before the next beat and ending after this one lies between them
        k = np.searchsorted(starts, sample[1:], side="left")  # segments starting before beat i+1
        stops_before = np.array([b for _, b in unreadable])
        last = k - 1
        has = last >= 0
        ok &= ~(has & (stops_before[np.maximum(last, 0)] > sample[:-1]))
    return ok


def _heart_rate(rr_s: np.ndarray, linked: np.ndarray, n_avg: int = 10) -> dict:
    valid = rr_s[linked]
    if len(valid) == 0:
        return {"mean": None, "min": None, "max": None}
    averages = []
    for a, b in mask_runs(np.asarray(linked, dtype=bool)):
        run = rr_s[a:b]
        k = min(n_avg, len(run))
        c = np.concatenate([[0.0], np.cumsum(run)])
        averages.append((c[k:] - c[:-k]) / k)
    avg = np.concatenate(averages)
    return {"mean": round(60.0 / float(valid.mean()), 2), "min": round(60.0 / float(avg.max()), 2),
            "max": round(60.0 / float(avg.min()), 2)}


def _ectopic_events(sample, label, linked, fs, cls: str, min_cycles: int) -> dict:
    """Couplets, triplets, runs >= 3, bigeminy and trigeminy of one ectopic class."""
    text, where = _pattern_text(label, linked, cls)

    def episodes(pattern: str) -> list[dict]:
        out = []
        for m in re.finditer(pattern, text):
            first, last = where[m.start()], where[m.end() - 1]
            out.append({"start_s": round(sample[first] / fs, 3), "n_beats": int(last - first + 1),
                        "duration_s": round((sample[last] - sample[first]) / fs, 3)})
        return out

    runs = [len(m.group()) for m in re.finditer("E+", text)]
    return {"couplets": runs.count(2), "triplets": runs.count(3), "runs": episodes("E{3,}"),
            "bigeminy": episodes(f"(?:NE){{{min_cycles},}}"),
            "trigeminy": episodes(f"(?:NNE){{{min_cycles},}}")}


def _pattern_text(label, linked, cls: str) -> tuple[str, list[int]]:
    """Beats as letters (E = the ectopic class, N = normal, O = other), '|' where the sequence
    is broken; with the beat index of each letter."""
    chars, where = [], []
    for i, lab in enumerate(label):
        if i and not linked[i - 1]:
            chars.append("|")
            where.append(i)
        chars.append("E" if lab == cls else "N" if lab == "N" else "|" if lab == UNREADABLE else "O")
        where.append(i)
    return "".join(chars), where


# --------------------------------------------------------------------------------------------
# reference annotations
# --------------------------------------------------------------------------------------------


def match_beats(ref: np.ndarray, test: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of two sorted sample arrays within ``tolerance`` samples (inclusive),
    by ``wfdb.processing.compare_annotations`` (the WFDB ``bxb`` rule; 150 ms at EC57) — the
    same matcher as the detection benchmark.

    Returns index arrays ``(i_ref, i_test)`` of the matched pairs, sorted by ``i_ref``.
    """
    from wfdb.processing import compare_annotations

    ref, test = np.asarray(ref, dtype=np.int64), np.asarray(test, dtype=np.int64)
    if len(ref) == 0 or len(test) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # wfdb matches differences strictly below window_width
    matched = compare_annotations(ref, test, window_width=int(tolerance) + 1).matching_sample_nums
    i_ref = np.flatnonzero(matched >= 0)
    return i_ref.astype(np.int64), np.asarray(matched[i_ref], dtype=np.int64)


def compare_with_reference(sample: np.ndarray, label: np.ndarray, ann_sample: np.ndarray,
                           ann_symbol: np.ndarray, fs: float, classes: tuple[str, ...],
                           tolerance_s: float = 0.15) -> dict:
    """Beat-by-beat comparison with reference annotations (MIT-BIH beat symbols -> AAMI).

    Returns detection sensitivity / positive predictivity, and EC57 statistics
    (:func:`ecgbeat.metrics.ec57_metrics`) twice: ``ec57_matched`` over matched, classified beats
    only and ``ec57_with_detection`` where a missed or unreadable reference beat counts as a false
    negative of its class and a false detection as a false positive of its predicted class.
    """
    from .metrics import ec57_metrics

    ref = reference_labels(sample, label, ann_sample, ann_symbol, fs, classes, tolerance_s)
    n_ref, n_det, n_matched = ref["n_reference_beats"], len(sample), ref["n_matched"]
    out = {
        "tolerance_s": tolerance_s, "n_reference_beats": n_ref, "n_detected": n_det,
        "n_matched": n_matched, "n_matched_unreadable": ref["n_matched_unreadable"],
        "detection_sensitivity": n_matched / n_ref if n_ref else None,
        "detection_ppv": n_matched / n_det if n_det else None,
    }
    lacking = [c for c in ("N", "S", "V", "F") if c not in classes]
    if lacking:  # a model of other classes (e.g. normal / abnormal): no EC57 statistics to compare
        return {**out, "ec57_matched": None, "ec57_with_detection": None,
                "ec57_note": f"the model's classes ({', '.join(classes)}) lack the AAMI class(es) "
                             f"{', '.join(lacking)}; no EC57 statistics"}

    def known(pair):  # reference beats of a class the model lacks (Q, say) are left out, as EC57 does Q
        keep = pair[0] >= 0
        return pair[0][keep], pair[1][keep]

    return {**out, "ec57_matched": ec57_metrics(*known(ref["matched"]), classes),
            "ec57_with_detection": ec57_metrics(*known(ref["with_detection"]), classes + ("-",))}


def reference_labels(sample: np.ndarray, label: np.ndarray, ann_sample: np.ndarray,
                     ann_symbol: np.ndarray, fs: float, classes: tuple[str, ...],
                     tolerance_s: float = 0.15) -> dict:
    """Class indices of the reference and the analysis, beat by beat (see
    :func:`compare_with_reference`): ``matched`` = (y_true, y_pred) of matched, classified beats;
    ``with_detection`` = (y_true, y_pred) where index ``len(classes)`` stands for "no beat"."""
    check_reference(ann_sample, ann_symbol, where="reference annotations")
    is_beat = np.array([s in SYMBOL_TO_CLASS for s in ann_symbol], dtype=bool)
    ref = np.asarray(ann_sample, dtype=np.int64)[is_beat]
    ref_cls = np.array([classes.index(SYMBOL_TO_CLASS[s]) if SYMBOL_TO_CLASS[s] in classes else -1
                        for s in np.asarray(ann_symbol)[is_beat]], dtype=np.int64)
    i_ref, i_test = match_beats(ref, sample, int(round(tolerance_s * fs)))
    classified = np.asarray(label, dtype=object) != UNREADABLE
    none = len(classes)  # "no classified beat" index
    pred_idx = np.array([classes.index(lab) if lab in classes else none for lab in label], dtype=np.int64)
    y_true = np.concatenate([ref_cls, np.full(len(sample), none)])
    y_pred = np.concatenate([np.full(len(ref), none), pred_idx])
    y_pred[i_ref] = pred_idx[i_test]
    unmatched_test = np.ones(len(sample), dtype=bool)
    unmatched_test[i_test] = False
    keep = np.concatenate([np.ones(len(ref), dtype=bool), unmatched_test & classified])
    both = classified[i_test]
    return {"n_reference_beats": int(len(ref)), "n_matched": int(len(i_ref)),
            "n_matched_unreadable": int((~both).sum()),
            "matched": (ref_cls[i_ref[both]], pred_idx[i_test[both]]),
            "with_detection": (y_true[keep], y_pred[keep])}


# --------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------


def write_beats_csv(result: AnalysisResult, path: str | os.PathLike) -> Path:
    """CSV: sample, time_s, class, one probability column per class (empty when unreadable)."""
    from .io.atomic import write_text_atomic

    lines = ["sample,time_s,class," + ",".join(f"p_{c}" for c in result.classes)]
    fs = result.signal.fs
    probs = np.where(np.isnan(result.proba), -1.0, result.proba)
    for s, lab, p in zip(result.sample, result.label, probs):
        cells = ",".join("" if v < 0 else f"{v:.5f}" for v in p)
        lines.append(f"{int(s)},{s / fs:.4f},{lab},{cells}")
    return write_text_atomic(path, "\n".join(lines) + "\n")


def check_annotation_ext(extension: str, beside: bool = False) -> None:
    """A WFDB annotation extension ecgbeat may write: letters only (wfdb's own rule for ``wrann``), and
    not the extension of a record's own files (``hea``, ``dat``), nor, ``beside`` the record, of its
    reference annotations (``atr``; :func:`write_annotations` checks the folder it is given)."""
    if not isinstance(extension, str) or not re.fullmatch(r"[A-Za-z]+", extension):
        raise EcgbeatError(f"annotation extension must be letters only (a-z, A-Z; WFDB's rule), got {extension!r}")
    if extension.lower() in (("hea", "dat", "atr") if beside else ("hea", "dat")):
        raise EcgbeatError(f"annotation extension {extension!r} would overwrite the record's own .{extension} file; "
                           "choose another (default: ecgb)")


def write_annotations(result: AnalysisResult, folder: Path, name: str, extension: str = "ecgb") -> Path:
    """WFDB annotation file ``folder/name.extension``: one beat code per classified beat
    (N, S, V, F, Q), ``~`` at the start (aux "unreadable") and end (aux "readable") of each
    unreadable segment. Written in a temporary folder and renamed (atomic)."""
    import tempfile

    import wfdb

    from .io.atomic import make_folder

    target = folder / f"{name}.{extension}"
    _check_annotation_target(result, target, extension)
    events = [(int(s), lab if lab in WFDB_BEAT_CODES else "Q", "") for s, lab in zip(result.sample, result.label)
              if lab != UNREADABLE]
    n = len(result.signal.signal_mV)
    for a, b in result.unreadable:
        events += [(a, "~", "unreadable"), (min(b, n - 1), "~", "readable")]
    events.sort(key=lambda e: e[0])
    make_folder(folder, "write annotations")
    tmp = Path(tempfile.mkdtemp(prefix=".wrann-", dir=folder))
    try:
        if events:
            wfdb.wrann(name, extension, sample=np.array([e[0] for e in events], dtype=np.int64),
                       symbol=[e[1] for e in events], aux_note=[e[2] for e in events],
                       fs=result.signal.fs, write_dir=str(tmp))
        else:  # wrann refuses an empty file; write the bare end-of-file marker
            (tmp / target.name).write_bytes(b"\x00\x00")
        os.replace(tmp / target.name, target)
    finally:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    return target


def _check_annotation_target(result: AnalysisResult, target: Path, extension: str) -> None:
    """``extension`` passes :func:`check_annotation_ext`, and the annotation file ``target`` is neither the
    input recording nor, beside it, its reference annotations."""
    check_annotation_ext(extension)
    if result.signal.path and target.resolve() == Path(result.signal.path).resolve():
        raise EcgbeatError(f"{target}: is the input recording; choose another annotation extension or folder")
    if (result.signal.path and extension.lower() == "atr"
            and target.resolve().parent == Path(result.signal.path).resolve().parent):
        raise EcgbeatError(f"{target}: would overwrite the record's reference annotations; choose another "
                           "annotation extension or folder")


def write_strip_plot(result: AnalysisResult, path: str | os.PathLike, duration_s: float = 10.0) -> Path:
    """PNG strip of ``duration_s`` around the first ventricular run (else the first ectopic beat,
    else the record start) with the predicted class of each beat."""
    from . import viz

    sig, fs = result.signal, result.signal.fs
    ok = result.label != UNREADABLE
    start = _strip_start(result, duration_s)
    x = np.where(np.isfinite(sig.signal_mV), sig.signal_mV, np.nan)
    fig = viz.plot_record_strip(x, fs, result.sample[ok], list(result.label[ok]), start_s=start,
                                duration_s=duration_s, labels_are="prediction",
                                title=f"{sig.name}, lead {sig.lead or '?'}: predicted beat classes")
    return viz.save_figure(fig, path)


def _strip_start(result: AnalysisResult, duration_s: float) -> float:
    fs, total = result.signal.fs, result.signal.duration_s
    runs = result.summary.get("events", {}).get("V", {}).get("runs", [])
    if runs:
        t = runs[0]["start_s"]
    else:
        ectopic = np.flatnonzero(np.isin(result.label, ("V", "S", "F")))
        t = result.sample[ectopic[0]] / fs if len(ectopic) else duration_s / 2
    return float(min(max(t - duration_s / 2, 0.0), max(total - duration_s, 0.0)))


def _header(sig: EcgSignal, meta: dict, config: AnalyzeConfig) -> dict:
    params = beat_params(meta)
    return {"record": sig.name, "source": sig.path, "lead": sig.lead, "fs": sig.fs,
            "duration_s": round(sig.duration_s, 3), "model": meta.get("model"),
            "classes": list(meta["classes"]), "beat_params": params.to_dict(),
            "scaling": config.scaling or params.scaling, "adapt": config.adapt, "af_gate": config.af_gate,
            "smooth": config.smooth, "self_train": config.self_train, "warnings": list(sig.warnings)}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "record"


def check_output_names(sources: Sequence[str | os.PathLike]) -> None:
    """Before anything is analysed: the files given to :func:`write_outputs` in one folder must get
    different output names (``NAME_beats.csv``, ...), else a later record's outputs would silently
    replace an earlier one's (``a/100`` and ``b/100.csv``; ``a b.csv`` and ``a_b.csv``)."""
    seen: dict[str, str] = {}
    for source in sources:
        name = _safe_name(record_name(source))
        if name in seen:
            raise EcgbeatError(f"{source}: its outputs would replace those of {seen[name]} (both are named "
                               f"{name}_*); analyze them into different --out folders")
        seen[name] = str(source)
