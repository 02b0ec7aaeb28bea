"""router.allocation: each subscriber's budget spent on its videos by priority, with hysteresis."""

from __future__ import annotations

import random

from router.allocation import BandwidthAllocator, DownlinkBudget, VideoDemand

LAYERS = [150_000.0, 500_000.0, 1_500_000.0]


def demand(key: str, desired: int = 2, rates: list[float | None] | None = None) -> VideoDemand:
    return VideoDemand(key, LAYERS if rates is None else rates, desired)


def test_without_a_budget_every_video_gets_the_layer_its_tile_needs():
    out = BandwidthAllocator().allocate([demand("big"), demand("thumb", desired=0)], None, 0.0)
    assert out == {"big": 2, "thumb": 0}


def test_a_layer_that_is_not_sent_is_replaced_by_the_best_one_below():
    out = BandwidthAllocator().allocate([demand("a", rates=[150_000.0, 500_000.0, None])], None, 0.0)
    assert out == {"a": 1}


def test_the_budget_goes_to_the_first_videos_and_pauses_the_last():
    allocator = BandwidthAllocator(pause_after=0.0)
    demands = [demand("screen"), demand("big"), demand("t1", 0), demand("t2", 0)]
    out = allocator.allocate(demands, 2_500_000, 0.0)
    assert out == {"screen": 2, "big": 0, "t1": 0, "t2": 0}
    out = BandwidthAllocator(pause_after=0.0).allocate(demands, 2_000_000, 0.0)
    assert out == {"screen": 1, "big": 1, "t1": 0, "t2": 0}  # two mid layers beat one top and a thumbnail
    out = BandwidthAllocator(pause_after=0.0).allocate(demands, 400_000, 0.0)
    assert out == {"screen": 0, "big": 0, "t1": None, "t2": None}
    out = BandwidthAllocator(pause_after=0.0).allocate(demands, 1_000, 0.0)
    assert out["screen"] == 0 and out["big"] is None  # the most important video always keeps its lowest


def test_down_at_once_up_only_after_the_room_lasted_a_second():
    allocator = BandwidthAllocator(up_delay=1.0)
    d = [demand("a")]
    assert allocator.allocate(d, 5_000_000, 0.0) == {"a": 2}
    assert allocator.allocate(d, 600_000, 0.25) == {"a": 1}
    assert allocator.allocate(d, 5_000_000, 0.5) == {"a": 1}
    assert allocator.allocate(d, 5_000_000, 1.0) == {"a": 1}
    assert allocator.allocate(d, 1_000_000, 1.25) == {"a": 1}  # the upgrade's room vanished: start over
    assert allocator.allocate(d, 5_000_000, 1.5) == {"a": 1}
    assert allocator.allocate(d, 5_000_000, 2.6) == {"a": 2}


def test_an_estimate_with_headroom_gets_a_probe_and_a_failed_probe_backs_off():
    allocator = BandwidthAllocator(up_delay=1.0, probe_interval=2.0)
    d = [demand("a")]
    allocator.allocate(d, 180_000, 0.0)  # only the lowest layer fits
    results = [allocator.allocate(d, 240_000, t)["a"] for t in (0.5, 1.0, 3.0, 3.5, 4.5)]
    assert results == [0, 0, 1, 1, 1] and allocator.probes == 1  # held while the estimate may react
    assert allocator.allocate(d, 200_000, 5.25)["a"] == 0  # it fell under the probe: undone
    later = [allocator.allocate(d, 240_000, 5.25 + 0.25 * i)["a"] for i in range(1, 16)]
    assert later.count(1) == 0  # the next probe waits longer (4 s instead of 2)
    assert allocator.allocate(d, 240_000, 30.0)["a"] in (0, 1)


def test_a_probe_the_estimate_did_not_fall_under_stays_until_the_estimate_falls():
    # Chrome's estimate climbs by about 8% a second: it cannot catch up with a probe in two seconds,
    # but it does fall when the link cannot carry what it is sent
    allocator = BandwidthAllocator(up_delay=0.0, probe_interval=1.0)
    d = [demand("a")]
    allocator.allocate(d, 180_000, 0.0)
    allocator.allocate(d, 240_000, 0.5)
    assert allocator.allocate(d, 240_000, 1.5)["a"] == 1 and allocator.probes == 1
    assert allocator.allocate(d, 250_000, 3.5)["a"] == 1  # two seconds and no fall: the link carries it
    assert [allocator.allocate(d, 260_000, 4.0 + t)["a"] for t in range(10)] == [1] * 10
    assert allocator.allocate(d, 220_000, 20.0)["a"] == 0  # 0.88 of the estimate the probe ended at


def test_a_probe_the_estimate_follows_stays():
    allocator = BandwidthAllocator(up_delay=1.0, probe_interval=2.0)
    d = [demand("a")]
    allocator.allocate(d, 180_000, 0.0)
    for t in (0.5, 3.0):
        allocator.allocate(d, 240_000, t)
    assert allocator.allocate(d, 700_000, 5.5)["a"] == 1


def test_random_budgets_never_overspend_beyond_the_first_video():
    rng = random.Random(3)
    allocator = BandwidthAllocator(up_delay=0.0, probe_interval=1e9, pause_after=0.0)
    demands = [demand(str(i), desired=rng.randrange(3)) for i in range(8)]
    for step in range(200):
        budget = rng.uniform(50_000, 8_000_000)
        out = allocator.allocate(demands, budget, step * 0.25)
        spent = sum(d.cost(out[d.key]) for d in demands[1:])
        assert spent <= budget or all(v is None for k, v in out.items() if k != "0")


def test_congestion_turns_the_estimate_into_a_budget_for_a_while():
    budget = DownlinkBudget(hold=10.0, confirm=2, warmup=0.0)
    assert budget.budget(None, False, 0.0) is None
    assert budget.budget(900_000, False, 1.0) is None
    assert budget.budget(300_000, True, 2.0) is None  # one report can be noise
    assert budget.budget(300_000, True, 2.5) == 300_000
    assert budget.budget(900_000, False, 8.0) == 900_000  # still within the hold
    assert budget.budget(900_000, False, 13.0) is None
    budget.budget(300_000, True, 14.0)
    budget.budget(300_000, True, 14.5)
    assert budget.budget(900_000, False, 30.0) == 900_000  # congestion again soon: held twice as long


def test_the_default_timings_upgrade_after_one_second_and_probe_after_three():
    allocator = BandwidthAllocator()
    d = [demand("a")]
    assert allocator.allocate(d, 600_000, 0.0) == {"a": 1}
    assert allocator.allocate(d, 5_000_000, 10.0) == {"a": 1}  # the top layer fits from now on
    assert allocator.allocate(d, 5_000_000, 10.999) == {"a": 1}
    assert allocator.allocate(d, 5_000_000, 11.0) == {"a": 2}  # exactly one second later
    probing = BandwidthAllocator()
    probing.allocate(d, 180_000, 0.0)
    assert [probing.allocate(d, 240_000, t)["a"] for t in (1.0, 3.999, 4.0)] == [0, 0, 1]  # headroom since 1.0
    assert probing.probes == 1


def test_a_video_that_exactly_fits_gets_its_layer():
    d = demand("a", rates=[1000.0, 4000.0, None])
    exact_low = d.cost(0)
    assert BandwidthAllocator()._fit([demand("x", rates=[1000.0]), d], d.cost(0) + exact_low) == {"x": 0, "a": 0}
    assert BandwidthAllocator()._fit([d], d.cost(1)) == {"a": 1}  # the upgrade costs exactly what is left
    assert BandwidthAllocator()._fit([d], d.cost(1) - 1) == {"a": 0}


def test_unsendable_and_settled_videos_do_not_stop_the_others():
    nothing = demand("off", rates=[None, None, None])
    settled = demand("thumb", desired=0)
    wants_more = demand("big")
    out = BandwidthAllocator()._fit([nothing, settled, wants_more], 5_000_000)
    assert out == {"off": None, "thumb": 0, "big": 2}
    assert nothing.ideal() is None and nothing.cost(None) == 0.0 and nothing.cost(1) == 0.0
    assert demand("a", desired=0, rates=[None, 500.0, 900.0]).ideal() == 1  # the lowest sent when all exceed it


def test_a_failed_probe_doubles_the_wait_up_to_thirty_seconds():
    allocator = BandwidthAllocator(up_delay=0.0)  # default probe interval 3 s, at most 30 s
    d = [demand("a")]
    allocator.allocate(d, 180_000, 0.0)
    probes_at: list[float] = []
    t = 0.0
    while t < 200.0 and len(probes_at) < 7:
        t += 0.25
        before = allocator.probes
        # headroom, but the estimate falls at the end of each probe's hold
        falls = bool(probes_at) and 2.0 <= t - probes_at[-1] < 2.25
        out = allocator.allocate(d, 200_000 if falls else 240_000, t)
        if allocator.probes > before:
            probes_at.append(t)
            assert out["a"] == 1
    waits = [b - a for a, b in zip(probes_at, probes_at[1:], strict=False)]
    # each wait: the 2 s hold, one allocation to undo, then the doubled interval of headroom
    assert [round(w - 2.25 - 0.25) for w in waits] == [6, 12, 24, 30, 30, 30]


def test_a_probe_is_held_two_seconds_unless_the_estimate_falls():
    allocator = BandwidthAllocator(up_delay=0.0, probe_interval=1.0)
    d = [demand("a")]
    allocator.allocate(d, 180_000, 0.0)
    allocator.allocate(d, 240_000, 0.5)
    assert allocator.allocate(d, 240_000, 1.5)["a"] == 1 and allocator.probes == 1  # the probe, at 240 kb/s
    assert allocator.allocate(d, 216_000, 3.499)["a"] == 1  # 0.9 of the estimate then: held
    assert allocator.allocate(d, 215_000, 3.5)["a"] == 0  # two seconds, and the estimate fell: undone
    again = BandwidthAllocator(up_delay=0.0, probe_interval=1.0)
    again.allocate(d, 180_000, 0.0)
    again.allocate(d, 240_000, 0.5)
    again.allocate(d, 240_000, 1.5)
    assert again.allocate(d, 215_000, 2.0)["a"] == 0  # it fell below 0.9 of the estimate: undone at once


def test_congestion_events_are_counted_and_the_hold_grows_twofold_up_to_its_maximum():
    budget = DownlinkBudget(warmup=0.0)  # 10 s hold, up to 80 s, two reports to confirm
    assert budget.budget(300_000, True, 0.0) is None
    assert budget.budget(300_000, True, 1.0) == 300_000 and budget.congestion_events == 1
    assert budget.budget(900_000, False, 10.999) == 900_000
    assert budget.budget(900_000, False, 11.0) is None  # exactly the hold later
    holds = []
    now = 11.0
    for _ in range(5):  # congestion again right after each hold ends: 20, 40, 80, 80, 80 s
        budget.budget(300_000, True, now)
        budget.budget(300_000, True, now)
        end = now
        while budget.budget(900_000, False, end) is not None:
            end += 1.0
        holds.append(end - now)
        now = end
    assert holds == [20.0, 40.0, 80.0, 80.0, 80.0] and budget.congestion_events == 6
    budget.budget(300_000, True, now + 100.0)
    budget.budget(300_000, True, now + 100.0)
    assert budget.budget(900_000, False, now + 109.0) == 900_000 and budget.budget(900_000, False, now + 110.0) is None


def test_a_new_receiver_signals_no_congestion_for_its_first_eight_seconds():
    budget = DownlinkBudget()  # Chrome's estimate sits near 300 kbit/s for its first ~5 s
    assert budget.budget(None, False, 100.0) is None  # the warm-up starts with the first look
    assert all(budget.budget(300_000, True, 100.0 + t) is None for t in range(8))
    assert budget.budget(300_000, True, 108.0) is None  # the first after the warm-up: one can be noise
    assert budget.budget(300_000, True, 108.5) == 300_000


def test_videos_are_paused_only_when_the_lowest_layers_have_not_fitted_for_ten_seconds():
    allocator = BandwidthAllocator()  # pause_after 10 s
    demands = [demand("a"), demand("b"), demand("c")]  # lowest layers: 3 x 165 kbit/s
    assert allocator.allocate(demands, 200_000, 0.0) == {"a": 0, "b": 0, "c": 0}  # step down, no pause
    assert allocator.allocate(demands, 200_000, 9.9) == {"a": 0, "b": 0, "c": 0}
    assert allocator.allocate(demands, 500_000, 9.95) == {"a": 0, "b": 0, "c": 0}  # it fitted once: start over
    assert allocator.allocate(demands, 200_000, 10.0) == {"a": 0, "b": 0, "c": 0}
    assert allocator.allocate(demands, 200_000, 19.99) == {"a": 0, "b": 0, "c": 0}
    assert allocator.allocate(demands, 200_000, 20.0) == {"a": 0, "b": None, "c": None}  # ten seconds short


def test_a_probe_brings_a_paused_video_back_before_improving_a_shown_one():
    allocator = BandwidthAllocator(up_delay=0.0, probe_interval=1.0, pause_after=0.0)
    d = [demand("big"), demand("thumb", desired=0)]
    assert allocator.allocate(d, 200_000, 0.0) == {"big": 0, "thumb": None}
    allocator.allocate(d, 260_000, 0.5)
    assert allocator.allocate(d, 260_000, 1.5) == {"big": 0, "thumb": 0} and allocator.probes == 1


def test_without_loss_a_short_budget_steps_videos_down_but_never_pauses_them():
    allocator = BandwidthAllocator(pause_after=0.0)
    demands = [demand("a"), demand("b"), demand("c")]
    assert allocator.allocate(demands, 200_000, 0.0, losing=False) == {"a": 0, "b": 0, "c": 0}
    assert allocator.allocate(demands, 200_000, 30.0, losing=False) == {"a": 0, "b": 0, "c": 0}
    assert allocator.allocate(demands, 200_000, 30.5, losing=True) == {"a": 0, "b": None, "c": None}
