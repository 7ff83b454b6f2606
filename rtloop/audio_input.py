"""Audio sources feeding the ring buffer: a sounddevice input stream, or a waveform replayed in time."""

from __future__ import annotations

import atexit
import threading
import time
from typing import Any, Protocol

import numpy as np

from rtloop.errors import DeviceError
from rtloop.pages import resident_zeros
from rtloop.resources import Closing
from rtloop.ring import RingBuffer

RING_SECONDS = 120.0
STALL_SECONDS = 2.0  # a running stream that delivers nothing this long has lost its device
CLOSE_TIMEOUT = 3.0


class AudioSource(Protocol):
    """What the daemon needs of an audio source."""

    ring: RingBuffer
    sample_rate: int
    xruns: int
    last_xrun_frame: int
    reopenable: bool
    # Whether what is scored must be current: when the scorer falls behind, a window that a newer ready one
    # has overtaken is skipped ("overrun"). An interface, a replay in real time or an endless one: yes; an
    # accelerated finite replay (--speed 8) scores every window however late, and waits for the last.
    realtime: bool

    def start(self) -> None: ...

    def close(self) -> None: ...

    def frame_at(self, t: float) -> int: ...

    def time_at(self, frame: int) -> float: ...

    def failure(self) -> str | None: ...

    def exhausted(self) -> bool: ...

    def reopen(self) -> None: ...

    def callback_durations(self) -> np.ndarray: ...


class _Timeline:
    """Maps ``time.monotonic()`` to absolute frame numbers from one (frame, time) anchor.

    The anchor is replaced whole (one tuple assignment, atomic under the GIL) by the producer.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.anchor: tuple[int, float] = (0, time.monotonic())

    def frame_at(self, t: float) -> int:
        frame, at = self.anchor
        return frame + round((t - at) * self.sample_rate)

    def time_at(self, frame: int) -> float:
        anchor_frame, at = self.anchor
        return at + (frame - anchor_frame) / self.sample_rate


def _import_sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library missing
        raise DeviceError(f"cannot load PortAudio: {exc}") from exc
    return sounddevice


def list_input_devices() -> list[tuple[int, str, int, float]]:
    """(index, name, input channels, default sample rate) of every audio input."""
    sd = _import_sounddevice()
    return [
        (i, d["name"], d["max_input_channels"], d["default_samplerate"])
        for i, d in enumerate(sd.query_devices())
        if d["max_input_channels"] > 0
    ]


def find_input_device(spec: str | None) -> tuple[int, str, int, float]:
    """An input device by index or case-insensitive name substring (None: the default input).

    Raises:
        DeviceError: no match, or several; the message lists the candidates.
    """
    devices = list_input_devices()
    if not devices:
        raise DeviceError("no audio input device found")
    listing = "; ".join(f"[{i}] {name}" for i, name, _, _ in devices)
    if spec is None:
        sd = _import_sounddevice()
        default = sd.default.device[0]
        match = [d for d in devices if d[0] == default] or devices[:1]
    elif spec.isdigit():
        match = [d for d in devices if d[0] == int(spec)]
    else:
        match = [d for d in devices if spec.lower() in d[1].lower()]
        exact = [d for d in match if d[1].lower() == spec.lower()]
        match = exact or match
    if len(match) != 1:
        problem = "matches several inputs" if match else "matches no audio input"
        raise DeviceError(f"--input {spec!r} {problem}. Inputs: {listing}")
    return match[0]


class SoundDeviceInput(Closing):
    """A PortAudio input stream that copies one channel into the ring; reopened if it vanishes.

    Args:
        device: index or name substring (None: default input).
        channel: 1-based channel of the interface to listen to.
        sample_rate: stream rate (None: the device's default); the daemon resamples if it differs
            from the bundle's.
        blocksize: frames per callback (0: PortAudio's choice).
    """

    def __init__(
        self, device: str | None, channel: int = 1, sample_rate: int | None = None, blocksize: int = 0
    ) -> None:
        self.device, self.channel, self.blocksize = device, channel, blocksize
        sd = _import_sounddevice()
        index, self.name, _, default_rate = find_input_device(device)
        # PortAudio cannot reconnect to a JACK server that went away (re-initialising it aborts in
        # pa_jack.c): there the run ends with a reason and a service manager restarts rtloop.
        self.reopenable = "JACK" not in sd.query_hostapis(sd.query_devices(index)["hostapi"])["name"]
        self.realtime = True
        self.sample_rate = int(sample_rate or default_rate)
        self.ring = RingBuffer(int(RING_SECONDS * self.sample_rate))
        self.xruns = 0
        self.last_xrun_frame = -1
        self.callback_seconds = resident_zeros(8192, np.float64)
        self.callbacks = 0
        self._column = channel - 1
        self._timeline = _Timeline(self.sample_rate)
        self._error: str | None = None
        self._stream = self._open()

    def _open(self) -> Any:
        sd = _import_sounddevice()
        index, self.name, channels, _ = find_input_device(self.device)
        if not 1 <= self.channel <= channels:
            raise DeviceError(f"{self.name} has {channels} input channel(s); --channel {self.channel} does not exist")
        try:
            return sd.InputStream(
                device=index,
                channels=self.channel,
                samplerate=self.sample_rate,
                blocksize=self.blocksize,
                dtype="float32",
                latency="high",
                callback=self._callback,
                finished_callback=self._finished,
            )
        except sd.PortAudioError as exc:
            raise DeviceError(f"cannot open {self.name} at {self.sample_rate} Hz: {exc}") from exc

    def reopen(self) -> None:
        """Open the device again after it vanished (PortAudio rescans devices first).

        Raises:
            DeviceError: still not there.
        """
        sd = _import_sounddevice()
        self._close_stream()
        sd._terminate()  # sounddevice's documented way to refresh PortAudio's device list
        sd._initialize()
        self._stream = self._open()
        self.last_xrun_frame = self.ring.written  # the gap: no window across it gets a score
        self.start()

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """Thread: PortAudio's audio thread. Copies into the ring and notes timing; no locks, no I/O,
        no waiting for the scorer, no allocation beyond the few Python scalars timing needs."""
        started = time.perf_counter()
        if status.input_overflow:
            self.xruns += 1
            self.last_xrun_frame = self.ring.written
        first_frame = self.ring.written
        self.ring.write(indata[:, self._column])
        adc = time_info.inputBufferAdcTime
        lag = time_info.currentTime - adc if adc > 0 else 0.0
        self._timeline.anchor = (first_frame, time.monotonic() - lag)
        self.callback_seconds[self.callbacks % len(self.callback_seconds)] = time.perf_counter() - started
        self.callbacks += 1

    def _finished(self) -> None:
        """Thread: PortAudio's. The stream ended (device gone or stopped); the worker reads this flag."""
        if self._error is None:
            self._error = f"audio input {self.name} stopped"

    def start(self) -> None:
        self._error = None
        self._stream.start()
        self._timeline.anchor = (self.ring.written, time.monotonic())

    def _close_stream(self) -> None:
        """Close the stream without waiting forever: PortAudio can block closing a vanished device."""
        closer = threading.Thread(target=self._stream.close, kwargs={"ignore_errors": True}, daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT)

    def close(self) -> None:
        """Stop and close the stream (bounded: a vanished device can block PortAudio)."""
        if self._error is not None and not self.reopenable:
            # The JACK server is gone: PortAudio's own exit handler would abort the process on it.
            atexit.unregister(_import_sounddevice()._exit_handler)
        self._error = "stopped"
        self._close_stream()

    def frame_at(self, t: float) -> int:
        return self._timeline.frame_at(t)

    def time_at(self, frame: int) -> float:
        return self._timeline.time_at(frame)

    def failure(self) -> str | None:
        """Why the input delivers no audio any more, or None while it runs."""
        if self._error == "stopped":
            return None
        if self._error is None and time.monotonic() - self._timeline.anchor[1] > STALL_SECONDS:
            self._error = f"no audio from {self.name} for {STALL_SECONDS:g} s"
        return self._error

    def exhausted(self) -> bool:
        """A live input never runs out."""
        return False

    def callback_durations(self) -> np.ndarray:
        """Seconds spent in each of the last (up to 8192) audio callbacks."""
        return self.callback_seconds[: min(self.callbacks, len(self.callback_seconds))].copy()


class ArrayInput(Closing):
    """Replays a mono waveform into the ring in (accelerated) real time, as an interface would.

    Args:
        wave: mono float32 audio.
        sample_rate: its rate.
        speed: 1.0 for real time; larger replays faster (tests, benchmarks).
        loop: start over at the end instead of finishing.
        block: frames per write.
    """

    def __init__(self, wave: np.ndarray, sample_rate: int, speed: float = 1.0, loop: bool = False, block: int = 1024):
        self.wave = np.ascontiguousarray(wave, dtype=np.float32)
        self.reopenable = False
        self.realtime = loop or speed == 1.0
        self.sample_rate = sample_rate
        self.speed = speed
        self.loop = loop
        self.block = block
        self.ring = RingBuffer(int(RING_SECONDS * sample_rate))
        self.xruns = 0
        self.last_xrun_frame = -1
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="array-input", daemon=True)

    def _run(self) -> None:
        self._t0 = time.monotonic()
        position = 0
        while not self._stop.is_set():
            if position >= len(self.wave):
                if not self.loop:
                    break
                position = 0
            chunk = self.wave[position : position + self.block]
            due = self._t0 + (self.ring.written + len(chunk)) / (self.sample_rate * self.speed)
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            self.ring.write(chunk)
            position += len(chunk)
        self.finished.set()

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop replaying."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def frame_at(self, t: float) -> int:
        return round((t - self._t0) * self.sample_rate * self.speed)

    def time_at(self, frame: int) -> float:
        return self._t0 + frame / (self.sample_rate * self.speed)

    def failure(self) -> str | None:
        return None

    def reopen(self) -> None:
        """A waveform cannot vanish: nothing to reopen."""
        raise DeviceError("replayed audio cannot be reopened")

    def exhausted(self) -> bool:
        """True once the whole waveform has been written (never when looping)."""
        return self.finished.is_set()

    def callback_durations(self) -> np.ndarray:
        """No audio callback here: an empty array."""
        return np.zeros(0)
