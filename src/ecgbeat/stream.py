"""Beat classification on a live ECG stream, with bounded memory.

:class:`StreamClassifier` takes consecutive chunks of one lead and returns each beat once it is
decided. It uses the streaming R-peak detector (:class:`ecgbeat.dsp.RPeakDetector`) and the very
helpers of :mod:`ecgbeat.analyze` (unreadable mask, polyphase resampling, beat cutting, RR
features, classification), computed on sliding buffers so that every beat sees exactly the
samples it would see in :func:`ecgbeat.analyze.analyze_record` with the same ``scaling`` (by
default the checkpoint's, see :mod:`ecgbeat.dsp.beats`):

``"causal"``
    a beat is decided as soon as its samples (one beat length after the R peak) and its
    unreadable test are final and the detector has confirmed it; about 1 s latency.
``"fixed"``
    the training windows; a beat is decided when its whole window (and its last beat) is in,
    so latency is up to ``window_s`` + 1.5 s.

With a model that takes RR features, a beat also waits for the next R peak (at most
``max_next_rr_s`` + 1.5 s; a longer next RR counts as unknown, as in ``analyze_record``).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .analyze import (
    UNREADABLE,
    AnalyzeConfig,
    Plan,
    as_config,
    as_signal,
    beat_dict,
    beat_params,
    beat_rr_features,
    beat_smoother,
    beats_readable,
    class_mix_adapter,
    classify,
    cut_fixed,
    labels_of,
    load_model,
    mask_target,
    patient_context,
    resample_polyphase,
    rhythm_tracker,
    self_trainer,
    to_target,
    unreadable_mask,
)
from .dsp.beats import causal_lengths, cut_causal
from .errors import EcgbeatError, is_real
from .io.signals import IMPOSSIBLE_MV, as_samples, unit_factor

#: Extra wait (s) for the detector to confirm a peak after the time a decision needs.
CONFIRM_S = 1.5
#: "fixed" scaling: a window counts as complete this long (s) after its end even when no later
#: R peak has been confirmed yet (asystole, signal loss).
WINDOW_WAIT_S = 3.0


class StreamClassifier:
    """Classify the beats of a stream of ECG samples as they arrive.

    Parameters
    ----------
    checkpoint_or_model : str, os.PathLike, (nn.Module, dict) or nn.Module
        As for :func:`ecgbeat.analyze.analyze_record`.
    fs : float
        Sampling frequency of the stream, Hz (50..2000).
    config : AnalyzeConfig or dict, optional
        ``scaling`` (None: the checkpoint's) and the unreadable-signal settings; must match the
        ``analyze_record`` run it is compared with.
    units : str, default "mV"
        Unit of the pushed samples ("mV", "uV", "V").

    Examples
    --------
    >>> sc = StreamClassifier("model.json", fs=360)                 # doctest: +SKIP
    >>> for chunk in chunks:                                        # doctest: +SKIP
    ...     for beat in sc.push(chunk):
    ...         print(beat["time_s"], beat["class"], beat["latency_s"])
    >>> tail = sc.flush()                                           # doctest: +SKIP
    """

    def __init__(self, checkpoint_or_model, fs: float, config: AnalyzeConfig | None = None,
                 units: str = "mV"):
        self.config = as_config(config)
        self._model, self._meta = load_model(checkpoint_or_model)
        self.classes = tuple(self._meta["classes"])
        self._plan = Plan.make(fs, beat_params(self._meta), self.config)
        self._factor = unit_factor(units)
        self._n_features = int(getattr(self._model, "n_features", 0) or 0)
        self.reset()

    @property
    def fs(self) -> float:
        return self._plan.fs_in

    @property
    def n_samples(self) -> int:
        """Samples pushed so far."""
        return self._n

    @property
    def buffer_sizes(self) -> dict:
        """Lengths of the internal buffers (input samples, target samples, R peaks): they stay
        bounded however long the stream runs."""
        return {"input": len(self._x), "target": len(self._y), "peaks": len(self._peaks_t)}

    def reset(self) -> None:
        """Forget the stream; the next push starts at sample 0."""
        from .dsp import RPeakDetector

        self._det = RPeakDetector(self._plan.fs_in)
        self._n = 0
        self._x = np.zeros(0)              # input samples from absolute index _x0 (NaN kept)
        self._recent = np.zeros(0)         # the last second of finite input samples (their median)
        self._level: float | None = None   # that median: the level of the 10-V rule, once there is a second
        self._fresh = 0                    # finite samples since the level was last renewed
        self._bad = np.zeros(0, dtype=bool)
        self._x0 = 0
        self._mask_done = 0                # input samples whose unreadable flag is final
        self._rs_a = 0                     # resampler segment start (multiple of plan.down)
        self._y = np.zeros(0)              # target-rate samples from absolute index _y0
        self._y0 = 0
        self._peaks_in = np.zeros(0, dtype=np.int64)   # recent confirmed peaks (input rate)
        self._peaks_t = np.zeros(0, dtype=np.int64)    # the same at the target rate
        self._undecided = 0                # index into the recent peaks of the first undecided
        self._run_start = None             # open unreadable run (absolute input index)
        self._segments: deque = deque(maxlen=10_000)
        self._finished = False
        self._context = patient_context(self._model, self._meta, self.config)  # template / long-term RR history
        self._rhythm = rhythm_tracker(self._meta, self.config)  # RR history of the AF gate
        self._adapter = class_mix_adapter(self._meta, self.config)  # the patient's class mix so far
        self._trainer = self_trainer(self._meta, self.config)  # the patient's own classifier so far
        self._smoother = beat_smoother(self._meta, self.config)  # the forward state of the beat classes
        self._wake = 0                     # push() only buffers while n_samples < _wake

    def push(self, samples) -> list[dict]:
        """Append samples; return the beats decided by them.

        Parameters
        ----------
        samples : array_like, shape (n,)
            The next samples of the lead (NaN marks missing samples).

        Returns
        -------
        list of dict
            Per beat: ``sample`` (from the stream start), ``time_s``, ``class`` (a class letter or
            ``"unreadable"``), ``probabilities`` (class -> p; None when unreadable) and
            ``latency_s`` (stream time from the R peak to the decision).
        """
        if self._finished:
            raise EcgbeatError("push() after flush(): call reset() to start a new stream")
        x = as_samples(samples, "push()")  # text, complex numbers: one line, not a numpy error
        if x.ndim != 1:
            raise EcgbeatError(f"push() takes one lead (1-D samples), got shape {x.shape}")
        x = self._possible(x * self._factor)
        self._x = np.concatenate([self._x, x])
        self._bad = np.concatenate([self._bad, np.zeros(len(x), dtype=bool)])
        self._n += len(x)
        peaks = self._det.push(x)
        if len(peaks) == 0 and self._n < self._wake:
            return []  # nothing can be decided yet: only buffer
        self._add_peaks(peaks)
        return self._advance(final=False)

    def _possible(self, x: np.ndarray) -> np.ndarray:
        """``x`` (mV) with the samples no ECG can have taken as missing (NaN), as read_signal takes
        them: infinite, or more than 10 V from the signal's level. The level is the median of the
        last second of finite samples before ``x`` (renewed every 0.1 s), so a DC offset is kept and
        a spike is not; within the first second, before there is a level, it is 0 (a spike at the
        start of a stream is not taken for the level)."""
        finite = np.isfinite(x)
        keep = finite & (np.abs(x - (self._level or 0.0)) <= IMPOSSIBLE_MV)
        second = max(1, int(self._plan.fs_in))
        self._recent = np.concatenate([self._recent, x[finite]])[-second:]
        self._fresh += int(finite.sum())
        if self._recent.size >= second and (self._level is None or self._fresh >= second // 10):
            self._level, self._fresh = float(np.median(self._recent)), 0
        return np.where(keep, x, np.nan)

    def flush(self) -> list[dict]:
        """End of the stream: decide the remaining beats (a beat cut short is unreadable)."""
        if self._finished:
            return []
        self._add_peaks(self._det.flush())
        out = self._advance(final=True)
        self._finished = True
        return out

    def pop_segments(self) -> list[dict]:
        """Unreadable segments closed since the last call: ``start_s``, ``end_s``."""
        out = [{"start_s": round(a / self.fs, 3), "end_s": round(b / self.fs, 3)} for a, b in self._segments]
        self._segments.clear()
        return out

    # ----------------------------------------------------------------------------------------

    def _advance(self, final: bool) -> list[dict]:
        self._update_mask(final)
        self._update_target(final)
        beats = self._decide(final)
        self._trim()
        self._wake = self._next_wake()
        return beats

    def _add_peaks(self, peaks: np.ndarray) -> None:
        peaks = np.asarray(peaks, dtype=np.int64)
        if len(peaks):
            self._peaks_in = np.concatenate([self._peaks_in, peaks])
            self._peaks_t = np.concatenate([self._peaks_t, to_target(peaks, self._plan)])

    def _update_mask(self, final: bool) -> None:
        b = self._plan.block
        end = self._n if final else (self._n // b) * b
        if end <= self._mask_done:
            return
        lo, hi = self._mask_done - self._x0, end - self._x0
        bad = unreadable_mask(self._x[lo:hi], self._plan, start=self._mask_done)
        self._bad[lo:hi] = bad
        self._track_segments(bad, self._mask_done, final)
        self._mask_done = end

    def _track_segments(self, bad: np.ndarray, start: int, final: bool) -> None:
        prev = 1 if self._run_start is not None else 0
        edges = np.diff(np.concatenate([[prev], bad.astype(np.int8)]))
        for i in np.flatnonzero(edges):
            if edges[i] == 1:
                self._run_start = start + int(i)
            else:
                self._segments.append((self._run_start, start + int(i)))
                self._run_start = None
        if final and self._run_start is not None:
            self._segments.append((self._run_start, start + len(bad)))
            self._run_start = None

    def _update_target(self, final: bool) -> None:
        """Extend the target-rate signal by the samples whose value and mask are now final."""
        p, n = self._plan, self._n
        y_done = self._y0 + len(self._y)
        total = -((-n * p.up) // p.down)
        if final:
            j_new = total
        else:
            half = p.half
            j_res = ((n - 1) * p.up - half) // p.down + 1
            j_mask = ((self._mask_done - 1 - p.margin) * p.up) // p.down + 1
            j_new = min(j_res, j_mask, total)
        if j_new <= y_done:
            return
        y = self._resample(y_done, j_new)
        y[mask_target(self._bad, p, y_done, j_new, i0=self._x0, n_in=n)] = np.nan
        self._y = np.concatenate([self._y, y])

    def _resample(self, j1: int, j2: int) -> np.ndarray:
        p = self._plan
        seg = np.nan_to_num(self._x[self._rs_a - self._x0:], nan=0.0)
        if p.up == p.down:
            return seg[j1 - self._rs_a: j2 - self._rs_a].copy()
        off = self._rs_a * p.up // p.down
        return resample_polyphase(seg, p.up, p.down)[j1 - off: j2 - off]

    def _decide(self, final: bool) -> list[dict]:
        ready = []
        k = self._undecided
        while k < len(self._peaks_t) and self._ready(k, final):
            ready.append(k)
            k += 1
        if not ready:
            return []
        self._undecided = k
        return self._classify(np.array(ready, dtype=np.int64), final)

    def _ready(self, k: int, final: bool) -> bool:
        if final:
            return True
        need_t, _, rr_n = self._needs(k)
        return self._y0 + len(self._y) >= need_t and self._n >= rr_n

    def _needs(self, k: int) -> tuple[float, int, int]:
        """What beat ``k`` waits for: target samples up to ``need_t`` (inf while its "fixed"
        window is open), the input count that closes that window by time, and the input count
        after which its next RR counts as unknown (RR features only)."""
        p, pt = self._plan, self._peaks_t
        close_n = 0
        if self._plan.scaling == "causal":
            need_t = pt[k] + int(causal_lengths(pt, np.array([k]), p.params)[0])
        else:
            w_end = (pt[k] // p.window + 1) * p.window
            close_n = int(np.ceil((w_end + WINDOW_WAIT_S * p.params.fs) * p.down / p.up))
            closed = pt[-1] >= w_end or self._n >= close_n
            need_t = w_end + p.params.n_samples if closed else np.inf
        rr_n = 0
        if self._n_features and k + 1 >= len(pt):
            rr_n = int(self._peaks_in[k] + (self.config.max_next_rr_s + CONFIRM_S) * p.fs_in) + 1
        return need_t, close_n, rr_n

    def _next_wake(self) -> int:
        """Input count before which no beat can be decided without a new R peak (pushes before
        it only buffer samples); at most 1 s (nothing pending) or 2 s ahead."""
        p, n = self._plan, self._n
        if self._undecided >= len(self._peaks_t):
            return n + int(p.fs_in)
        need_t, close_n, rr_n = self._needs(self._undecided)
        if need_t == np.inf:
            wake = close_n
        else:
            half = p.half
            mask_n = -(-((need_t - 1) * p.down) // p.up) + 1 + p.margin
            mask_n = -(-mask_n // p.block) * p.block
            res_n = -(-((need_t - 1) * p.down + half) // p.up) + 1
            wake = max(int(mask_n), int(res_n), rr_n)
        return min(wake, n + int(2 * p.fs_in))

    def _classify(self, ready: np.ndarray, final: bool) -> list[dict]:
        p = self._plan
        y_end = self._y0 + len(self._y)
        end = y_end if final else y_end + 10 * p.window  # not the signal end yet
        cut = cut_fixed if self._plan.scaling == "fixed" else cut_causal
        lost = np.maximum(self._peaks_t[ready] - p.window, 0) < self._y0  # window no longer buffered
        X, length = cut(self._y, self._y0, self._peaks_t, ready, p.params, end)
        ok = beats_readable(self._y, self._y0, self._peaks_t[ready], length, p, end) & ~lost
        if self._plan.scaling == "fixed":
            ok &= (self._peaks_t[ready] // p.window) * p.window >= self._y0
        lo = max(0, int(ready[0]) - 11)
        rr = beat_rr_features(self._peaks_in[lo: int(ready[-1]) + 2], p.fs_in, self.config)
        proba, af = classify(self._model, self._meta, X, rr[ready - lo], ok, self._context, self._rhythm,
                             self._adapter, self._trainer, self._smoother)
        labels = labels_of(proba, self.classes)
        flags = [None] * len(ready) if af is None else af  # the AF gate's rhythm flag, beside the class it shaped
        return [beat_dict(int(self._peaks_in[k]), p.fs_in, str(lab), pr, self.classes,
                          latency_s=(self._n - self._peaks_in[k]) / p.fs_in, irregular_rhythm=flag)
                for k, lab, pr, flag in zip(ready, labels, proba, flags)]

    def _trim(self) -> None:
        """Drop samples and peaks no later decision can need (bounded memory)."""
        p = self._plan
        y_end = self._y0 + len(self._y)
        keep_t = y_end - 2 * p.window - 2 * p.params.n_samples
        if self._undecided < len(self._peaks_t):
            keep_t = min(keep_t, (self._peaks_t[self._undecided] // p.window - 1) * p.window)
        keep_t = max(self._y0, keep_t)
        self._y = self._y[keep_t - self._y0:]
        self._y0 = keep_t
        # peaks: those of the kept signal and the 11 before the first undecided (RR features)
        drop = min(int(np.searchsorted(self._peaks_t, keep_t - p.window)), max(0, self._undecided - 12))
        if drop > 0:
            self._peaks_in, self._peaks_t = self._peaks_in[drop:], self._peaks_t[drop:]
            self._undecided -= drop
        # input: the resampler's next segment, the mask of the next target samples, open block
        half = p.half
        first_in = max(0, (y_end * p.down - half) // p.up - 1)
        self._rs_a = max(self._rs_a, (first_in // p.down) * p.down)
        need_mask = (y_end * p.down) // p.up - p.margin
        keep_in = max(self._x0, min(self._rs_a, need_mask, self._mask_done))
        self._x = self._x[keep_in - self._x0:]
        self._bad = self._bad[keep_in - self._x0:]
        self._x0 = keep_in


# --------------------------------------------------------------------------------------------
# replaying a file or reading text samples (the ``ecgbeat stream`` command)
# --------------------------------------------------------------------------------------------


def replay(source, checkpoint_or_model, speed: float = 1.0, chunk_s: float = 0.5,
           config: AnalyzeConfig | None = None, lead: str | None = None, fs: float | None = None,
           units: str | None = None):
    """Stream a recorded file through a :class:`StreamClassifier`, in real time x ``speed``.

    Parameters
    ----------
    source : str, os.PathLike, EcgSignal or array_like
        Any file :func:`ecgbeat.io.signals.read_signal` reads (converted to mV there), a signal in
        memory, or one lead of samples (1-D array, list, pandas Series; needs ``fs``).
    checkpoint_or_model
        As for :class:`StreamClassifier`.
    speed : float, default 1.0
        Replay speed (1 = real time); 0 = as fast as possible.
    chunk_s : float, default 0.5
        Samples pushed at a time, seconds.
    config, lead, fs, units
        Analysis settings and :func:`read_signal` options (as in
        :func:`~ecgbeat.analyze.analyze_record`: an EcgSignal refuses options that contradict it).

    Returns
    -------
    iterator of dict
        The file is read and every argument checked at the call (a mistake raises here, not at the
        first ``next()``). The events: first ``{"event": "warning", "message"}`` for each of the file's reading warnings
        (:attr:`EcgSignal.warnings`: missing samples, an assumed sampling rate ...), then beat dicts
        (see :meth:`StreamClassifier.push`), ``{"event": "unreadable", "start_s", "end_s"}`` per
        closed unreadable segment, and a final ``{"event": "end", ...}``.
    """
    sig = as_signal(source, lead=lead, fs=fs, units=units)  # every check here, at the call, not at
    sc = StreamClassifier(checkpoint_or_model, sig.fs, config)  # the first next() of the events
    chunk = _chunk_len(chunk_s, sig.fs)
    _check_speed(speed)
    return _replay_events(sc, sig, chunk, speed)


def _replay_events(sc: StreamClassifier, sig, chunk: int, speed: float):
    x = sig.signal_mV
    for message in sig.warnings:
        yield {"event": "warning", "message": message}
    yield from _run(sc, (x[i: i + chunk] for i in range(0, len(x), chunk)), speed)


def stream_text(lines, checkpoint_or_model, fs: float, chunk_s: float = 0.5,
                config: AnalyzeConfig | None = None, units: str = "mV"):
    """Stream samples given as text (numbers separated by white space, commas or new lines,
    e.g. standard input); ``nan`` marks a missing sample. Returns the events as :func:`replay` does
    (arguments checked at the call; the text is read as the events are taken).

    ``lines``: an iterable of text lines (a file, ``sys.stdin``, a list of str), or the whole text as
    one str (split into lines here; iterating a str would give single characters)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    elif isinstance(lines, (bytes, bytearray)) or not hasattr(lines, "__iter__"):
        raise EcgbeatError(f"stream_text() takes text: lines of str or one str, got {type(lines).__name__}"
                           + (" (decode it first)" if isinstance(lines, (bytes, bytearray)) else ""))
    sc = StreamClassifier(checkpoint_or_model, fs, config, units=units)
    return _run(sc, _text_chunks(lines, _chunk_len(chunk_s, fs)), speed=0.0)  # checked at the call


def _chunk_len(chunk_s: float, fs: float) -> int:
    if not is_real(chunk_s) or not 0 < chunk_s < float("inf"):
        raise EcgbeatError(f"chunk length must be a positive number of seconds, got {chunk_s!r}")
    return max(1, int(round(chunk_s * fs)))


def _text_chunks(lines, chunk: int):
    buf: list[float] = []
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, str):
            raise EcgbeatError(f"input line {number}: expected a line of text, got {type(line).__name__} "
                               "(samples already in numbers go to StreamClassifier.push)")
        for token in line.replace(",", " ").split():
            try:
                buf.append(float(token))
            except ValueError:
                raise EcgbeatError(f"input line {number}: not a number: {token[:40]!r}") from None
        if len(buf) >= chunk:
            yield np.array(buf)
            buf = []
    if buf:
        yield np.array(buf)


def _check_speed(speed) -> None:
    if not is_real(speed) or not 0 <= speed < float("inf"):  # NaN fails too
        raise EcgbeatError(f"--speed must be a finite number >= 0, got {speed!r}")


def _run(sc: StreamClassifier, chunks, speed: float):
    import time

    counts = {c: 0 for c in (*sc.classes, UNREADABLE)}
    start = time.monotonic()
    for chunk in chunks:
        if speed > 0:
            due = start + (sc.n_samples + len(chunk)) / sc.fs / speed
            time.sleep(max(0.0, due - time.monotonic()))
        for beat in sc.push(chunk):
            counts[beat["class"]] += 1
            yield beat
        yield from ({"event": "unreadable", **seg} for seg in sc.pop_segments())
    for beat in sc.flush():
        counts[beat["class"]] += 1
        yield beat
    yield from ({"event": "unreadable", **seg} for seg in sc.pop_segments())
    yield {"event": "end", "n_samples": sc.n_samples, "duration_s": round(sc.n_samples / sc.fs, 3),
           "n_beats": sum(counts.values()), "beats_per_class": counts}


