"""When the daemon's loop wakes: its steady poll, finer while a boundary or a window's last frame is due."""

from __future__ import annotations

import pytest

from rtloop.wakeup import FINE_POLL_SECONDS, LATE_SECONDS, POLL_SECONDS, Wakeup

RATE = 48_000
BAR = 96_000  # 2 s


def time_at(frame: int) -> float:
    return frame / RATE  # the ring's frame 0 was captured at monotonic time 0


def test_steady_poll_without_a_prediction_or_a_waiting_window() -> None:
    wakeup = Wakeup()
    assert wakeup.seconds(1.0, RATE, time_at, None) == POLL_SECONDS
    wakeup.boundary(BAR)  # one boundary predicts nothing
    assert wakeup.predicted() is None
    assert wakeup.seconds(3.9, int(3.9 * RATE), time_at, None) == POLL_SECONDS


def test_wakes_as_the_next_boundary_arrives_and_polls_finely_until_it_has() -> None:
    wakeup = Wakeup()
    wakeup.boundary(BAR)
    wakeup.boundary(2 * BAR)
    assert wakeup.predicted() == 3 * BAR
    at = time_at(3 * BAR)
    assert wakeup.seconds(at - 1.0, 0, time_at, None) == POLL_SECONDS
    assert wakeup.seconds(at - 0.002, 0, time_at, None) == pytest.approx(0.002)
    assert wakeup.seconds(at + 0.004, 3 * BAR - 256, time_at, None) == FINE_POLL_SECONDS
    # its audio is in but the clock (MIDI) has not ticked yet: still awaited
    assert wakeup.seconds(at + 0.006, 3 * BAR + 256, time_at, None) == FINE_POLL_SECONDS
    # long overdue (a stop, a slower tempo): back to the steady poll
    assert wakeup.seconds(at + 2 * LATE_SECONDS, 3 * BAR + RATE, time_at, None) == POLL_SECONDS


def test_a_window_waiting_for_its_last_frame_counts_until_it_is_in() -> None:
    wakeup = Wakeup()
    end = 5 * BAR
    assert wakeup.seconds(time_at(end) - 0.001, end - 64, time_at, end) == pytest.approx(0.001)
    assert wakeup.seconds(time_at(end), end, time_at, end) == POLL_SECONDS  # in: waits on the scorer now


def test_reset_and_a_count_that_goes_back_forget_the_prediction() -> None:
    wakeup = Wakeup()
    wakeup.boundary(BAR)
    wakeup.boundary(2 * BAR)
    wakeup.reset()
    assert wakeup.predicted() is None
    wakeup.boundary(BAR)
    wakeup.boundary(2 * BAR)
    wakeup.boundary(BAR // 2)  # the ring restarted (audio reopened)
    assert wakeup.predicted() is None
