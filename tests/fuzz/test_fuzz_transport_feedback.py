"""Fuzzing a subscriber's transport-wide feedback: what it sends reaches our downlink estimator
(router/downlink_estimator.py) through the demux. Any datagram is parsed or refused, never raises,
and the estimate stays within its bounds; feedback we build parses back to what it said."""

from __future__ import annotations

from harness import fuzz_target
from hypothesis import example, given
from hypothesis import strategies as st
from rtp_strategies import flips, mutated, u16, u32

from router.demux import PacketDemux
from router.downlink_estimator import MAX_BPS, MIN_BPS, DownlinkEstimator
from router.link import RetransmitBudget
from router.rtt import RttEstimator
from router.twcc import build_feedback, parse_feedback_fci


class NoLink:
    """The demux's connection: nothing is sent back for transport feedback."""

    def __init__(self) -> None:
        self.rtt = RttEstimator()
        self.retransmit_budget = RetransmitBudget()

    def send_rtp(self, data: bytes) -> None:
        raise AssertionError("transport feedback must not make the demux send media")

    def send_rtcp(self, data: bytes) -> bool:
        return True

arrival = st.one_of(st.none(), st.integers(0, 2**31))
arrivals = st.lists(arrival, min_size=1, max_size=300).filter(lambda a: any(t is not None for t in a))
built = st.builds(lambda s, m, base, a, n: (build_feedback(s, m, base, sorted_times(a), n), base, sorted_times(a)),
                  u32, u32, u16, arrivals, st.integers(0, 255))


def sorted_times(times: list[int | None]) -> list[int | None]:
    """Arrival deltas that fit the format (a browser's): increasing by at most 8 s each."""
    out: list[int | None] = []
    clock = None
    for t in times:
        if t is None:
            out.append(None)
            continue
        clock = (t % 8_000_000) if clock is None else clock + t % 8_000_000
        out.append(clock)
    return out


noise = st.one_of(
    st.binary(max_size=400),
    st.builds(mutated, built.map(lambda b: b[0]), flips),
    st.builds(lambda words, body: bytes([0x8F, 205]) + words.to_bytes(2, "big") + body,
              st.integers(0, 120), st.binary(max_size=400)),
)


def demux_with_estimator() -> tuple[PacketDemux, DownlinkEstimator]:
    demux = PacketDemux(NoLink())
    estimator = DownlinkEstimator()
    for sequence in range(0, 0x10000, 7):  # sent long ago and recently, across the wrap
        estimator.sent.record(sequence, sequence * 1_000, 1200)
    demux.downlink_estimator = estimator
    return demux, estimator


@fuzz_target
@given(st.one_of(built, noise), st.integers(1, 4))
@example(bytes([0x8F, 205, 0, 4]) + bytes(16), 1)  # no chunks for one status
@example(bytes([0x8F, 205, 0x00, 0x05]) + bytes(8) + b"\x00\x00\xff\xff" + bytes(4), 1)  # 65535 statuses claimed
def test_fuzz_transport_feedback(case: tuple[bytes, int, list[int | None]] | bytes, repeats: int) -> None:
    demux, estimator = demux_with_estimator()
    data = case if isinstance(case, bytes) else case[0]
    for _ in range(repeats):
        demux.handle_rtcp(data)
    assert MIN_BPS <= estimator.estimate_bps <= MAX_BPS
    assert demux.feedback_counts["transport-cc"] + demux.bad_transport_feedback >= 0
    if isinstance(case, tuple):
        packet, base, times = case
        parsed = parse_feedback_fci(packet)
        assert parsed.base_sequence == base
        assert [t is None for t in parsed.arrivals] == [t is None for t in times]
        assert demux.feedback_counts["transport-cc"] == repeats
