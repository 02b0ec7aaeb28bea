"""router.speaker.ActiveSpeakerDetector: loud vs quiet, switching, hysteresis, rate limit, removal."""

from __future__ import annotations

from router.speaker import ActiveSpeakerDetector


def feed(det: ActiveSpeakerDetector, levels: dict[str, int], start_ms: float, duration_ms: float,
         voiced: bool = False, ptime: float = 20.0) -> float:
    t = start_ms
    while t < start_ms + duration_ms:
        for pid, level in levels.items():
            det.observe(pid, level, voiced, t)
        t += ptime
    return t


def test_loud_beats_quiet():
    det = ActiveSpeakerDetector()
    t = feed(det, {"loud": 20, "quiet": 55, "silent": 127}, 0, 1000)
    assert det.poll(t) == "loud"
    assert det.dominant == "loud"
    assert det.poll(t + 600) is None  # unchanged
    s = det.scores(t)
    assert s["loud"] > s["quiet"] > s["silent"] == 0


def test_nobody_speaking():
    det = ActiveSpeakerDetector()
    assert det.poll(0) is None
    t = feed(det, {"a": 127, "b": 90}, 0, 1000)
    assert det.poll(t) is None
    assert det.dominant is None


def test_switch_when_other_takes_over():
    det = ActiveSpeakerDetector()
    t = feed(det, {"a": 20, "b": 127}, 0, 1500)
    assert det.poll(t) == "a"
    t = feed(det, {"a": 127, "b": 20}, t, 1500)
    assert det.poll(t) == "b"


def test_speaker_stays_through_silence():
    det = ActiveSpeakerDetector()
    t = feed(det, {"a": 20, "b": 127}, 0, 1500)
    assert det.poll(t) == "a"
    t = feed(det, {"a": 127, "b": 127}, t, 3000)
    assert det.poll(t) is None and det.dominant == "a"


def test_hysteresis_similar_levels_do_not_switch():
    det = ActiveSpeakerDetector()
    t = feed(det, {"a": 25, "b": 127}, 0, 1500)
    assert det.poll(t) == "a"
    # b now slightly louder than a, both talking: not a clear takeover
    for _ in range(10):
        t = feed(det, {"a": 25, "b": 22}, t, 500)
        assert det.poll(t) is None
    assert det.dominant == "a"
    # b clearly dominates
    t = feed(det, {"a": 50, "b": 15}, t, 1500)
    assert det.poll(t) == "b"


def test_rate_limit():
    det = ActiveSpeakerDetector(window_ms=200, min_switch_interval_ms=500)
    t = feed(det, {"a": 10, "b": 127}, 0, 300)
    assert det.poll(t) == "a"
    switched_at = t
    t = feed(det, {"a": 127, "b": 10}, t, 300)
    assert t - switched_at < 500
    assert det.poll(t) is None  # would switch, but too soon
    t = feed(det, {"a": 127, "b": 10}, t, 300)
    assert det.poll(t) == "b"


def test_removal_of_dominant_picks_next():
    det = ActiveSpeakerDetector()
    t = feed(det, {"a": 10, "b": 30}, 0, 1500)
    assert det.poll(t) == "a"
    det.remove("a")
    det.remove("unknown")
    assert det.dominant is None
    assert det.poll(t + 1) == "b"
    assert "a" not in det.scores(t)


def test_voice_flag_respected_once_sender_uses_it():
    det = ActiveSpeakerDetector()
    # "vad" uses the V flag: loud but unvoiced packets (noise) after voiced ones count as silence
    det.observe("vad", 30, True, 0)
    t = feed(det, {"vad": 10}, 20, 1500, voiced=False)
    t = feed(det, {"plain": 40}, 20, 1500, voiced=False)
    assert det.poll(t) == "plain"


def test_many_participants_and_row_reuse():
    det = ActiveSpeakerDetector()
    levels = {f"p{i}": 100 for i in range(30)}
    levels["p17"] = 15
    t = feed(det, levels, 0, 600)
    assert det.poll(t) == "p17"
    for i in range(30):
        det.remove(f"p{i}")
    assert det.poll(t + 1000) is None
    t = feed(det, {"new": 20}, t, 500)
    assert det.poll(t) == "new"


def test_window_forgets_old_speech():
    det = ActiveSpeakerDetector(window_ms=1000)
    feed(det, {"a": 10}, 0, 500)
    feed(det, {"b": 40}, 2000, 500)
    assert det.scores(2500)["a"] == 0
    assert det.poll(2500) == "b"


def test_default_thresholds_exactly():
    """Defaults: silence at level 60, a speaker needs a mean activity of 3, a challenger 1.5x + 3 of the
    current one, a window of 1.5 s and a switch at most every 0.5 s."""
    det = ActiveSpeakerDetector()
    det.observe("quiet", 58, False, 0.0)  # activity 2: below the minimum score
    det.observe("edge", 57, False, 0.0)  # activity 3: exactly the minimum score
    det.observe("noise", 61, False, 0.0)  # quieter than the silence level: no activity, never negative
    assert det.scores(0.0) == {"quiet": 2.0, "edge": 3.0, "noise": 0.0}
    assert det.poll(1.0) == "edge"
    det.observe("loud", 60 - 8, False, 400.0)  # 8 beats 1.5 x 3 + 3 = 7.5
    det.observe("loud", 60 - 8, False, 450.0)
    assert det.poll(500.999) is None  # within 0.5 s of the last switch
    assert det.poll(501.0) == "loud"
    assert det.scores(1499.999)["edge"] == 3.0 and det.scores(1500.0)["edge"] == 0.0  # the window is 1.5 s
    assert det.recent_scores(600.0, 200.0) == {"quiet": 0.0, "edge": 0.0, "noise": 0.0, "loud": 8.0}


def test_a_challenger_exactly_at_the_switch_threshold_takes_over():
    det = ActiveSpeakerDetector(switch_ratio=2.0, switch_margin=4.0, min_switch_interval_ms=0)
    det.observe("a", 50, False, 0.0)  # 10
    assert det.poll(0.0) == "a"
    det.observe("b", 60 - 23, False, 0.0)  # 23 < 2 x 10 + 4
    assert det.poll(1.0) is None
    det.observe("b", 60 - 25, False, 1.0)  # mean 24 == 2 x 10 + 4
    assert det.poll(2.0) == "b"


def test_a_sender_that_flags_voice_activity_is_trusted_afterwards():
    det = ActiveSpeakerDetector()
    det.observe("vad", 50, True, 0.0)  # voiced: activity 10
    det.observe("vad", 20, False, 1.0)  # loud but flagged as not voice: counts as silence
    det.observe("plain", 59, False, 0.0)  # never flagged: judged by level (activity 1)
    assert det.scores(2.0) == {"vad": 5.0, "plain": 1.0}


def test_rows_are_reused_and_grown_without_carrying_anything_over():
    det = ActiveSpeakerDetector()
    det.observe("old", 50, True, 0.0)
    for i in range(3):
        det.observe("old", 10, False, float(i))
    det.remove("old")
    det.remove("nobody")  # unknown: harmless
    det.observe("new", 50, False, 5.0)  # takes the freed row: its own level only, judged by level
    assert det.scores(5.0) == {"new": 10.0}
    for i in range(20):  # more participants than the first allocation of rows
        det.observe(f"p{i}", 60 - i, False, 6.0)
    scores = det.scores(6.0)
    assert scores == {"new": 10.0, **{f"p{i}": float(i) for i in range(20)}}
    for i in range(20):
        det.remove(f"p{i}")
    for i in range(20):
        det.observe(f"q{i}", 40, False, 7.0)
    assert set(det.scores(7.0).values()) == {10.0, 20.0} and len(det.scores(7.0)) == 21


def test_the_ring_keeps_the_newest_packets_when_it_wraps():
    det = ActiveSpeakerDetector(window_ms=160)  # 16 slots (the minimum)
    for i in range(40):
        det.observe("a", 60 - (i % 10), False, 10.0 * i)  # activity 0..9, repeating
    # the last 16 packets (times 240..390) are kept; the window at 400 covers 250..390
    assert det.scores(400.0)["a"] == sum(i % 10 for i in range(25, 40)) / 15
