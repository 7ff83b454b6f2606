"""Ring buffer against a plain Python list (randomised model-based test), wrap-around, overrun, and
no page faults for the audio thread."""

from __future__ import annotations

import resource

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rtloop.ring import ReadStatus, RingBuffer


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(20, 80),
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("w"), st.integers(0, 120)),
            st.tuples(st.just("r"), st.integers(0, 400), st.integers(1, 60)),
        ),
        max_size=60,
    ),
)
def test_ring_behaves_like_a_list(capacity: int, ops: list[tuple]) -> None:
    ring = RingBuffer(capacity, guard=4)
    model: list[float] = []
    for op in ops:
        if op[0] == "w":
            block = np.arange(len(model), len(model) + op[1], dtype=np.float32)
            ring.write(block)
            model.extend(block.tolist())
            assert ring.written == len(model)
        else:
            _, start, n = op
            out = np.full(n, -1.0, dtype=np.float32)
            status = ring.read(start, out)
            if start + n > len(model):
                assert status is ReadStatus.NOT_READY
                assert np.all(out == -1.0)
            elif start < max(0, len(model) - capacity + 4):
                assert status is ReadStatus.OVERWRITTEN
            else:
                assert status is ReadStatus.OK
                assert out.tolist() == model[start : start + n]


def test_wrap_around_and_oversized_block() -> None:
    ring = RingBuffer(10, guard=2)
    ring.write(np.arange(7, dtype=np.float32))
    ring.write(np.arange(7, 12, dtype=np.float32))  # wraps
    out = np.empty(5, dtype=np.float32)
    assert ring.read(7, out) is ReadStatus.OK and out.tolist() == [7, 8, 9, 10, 11]
    ring.write(np.arange(12, 40, dtype=np.float32))  # longer than the ring: keeps its newest part
    assert ring.written == 40
    assert ring.read(32, out) is ReadStatus.OK and out.tolist() == [32, 33, 34, 35, 36]
    assert ring.read(20, out) is ReadStatus.OVERWRITTEN


def test_the_first_lap_of_a_live_sized_ring_takes_no_page_faults() -> None:
    """The audio callback writes the ring; a page first touched there faults inside the callback
    (one huge page cost 9 ms on a VM: an xrun). The ring is resident from the start instead."""
    block = np.ones(256, dtype=np.float32)
    RingBuffer(48000, guard=256).write(block)  # the write path's own first allocations, outside the count
    ring = RingBuffer(48000 * 120)  # the live input's 120 s at 48 kHz: 23 MB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(ring.capacity // len(block)):
        ring.write(block)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 16, f"{faults} page faults while writing the ring's first lap"
