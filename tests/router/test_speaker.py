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
