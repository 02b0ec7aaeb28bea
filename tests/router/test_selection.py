"""router.selection: last-N video, the loudest speakers' audio, and stable receive slots."""

from __future__ import annotations

from router.selection import LoudestSpeakers, assign_slots, audio_set, video_set

JOINED = ["a", "b", "c", "d", "e", "f"]


def test_video_set_gives_a_view_only_what_it_shows_and_others_the_speaker_then_speakers_then_seniority():
    cameras = {"a", "b", "c", "d", "e"}
    assert video_set(3, cameras, "d", None, ["e", "c"], JOINED) == ["d", "e", "c"]
    assert video_set(4, cameras, None, None, ["e"], JOINED) == ["e", "a", "b", "c"]
    assert video_set(3, cameras, "d", ["b", "zz", "a", "c"], ["e"], JOINED) == ["b", "a", "c"]  # d is not shown
    assert video_set(2, cameras, "c", ["b", "zz", "a", "c"], ["e"], JOINED) == ["c", "b"]  # shown: first
    assert video_set(3, cameras, "d", [], ["d", "e"], JOINED) == []  # a page that shows nothing gets nothing
    assert video_set(0, cameras, None, None, [], JOINED) == ["a", "b", "c", "d", "e"]
    assert video_set(3, {"a"}, "f", None, ["f"], JOINED) == ["a"]  # no camera, no video


def test_audio_set_hears_everyone_in_a_small_room_and_the_loudest_in_a_big_one():
    assert audio_set(3, "a", [], ["a", "b", "c"]) == ["b", "c"]
    assert audio_set(3, "a", ["f", "a", "e"], JOINED) == ["f", "e", "b"]
    assert audio_set(0, "a", [], JOINED) == ["b", "c", "d", "e", "f"]
    assert audio_set(2, "a", ["x", "b"], ["a", "b", "c", "d"]) == ["b", "c"]  # never someone not eligible


def test_loudest_speakers_let_a_new_voice_in_at_once_and_keep_speakers_through_pauses():
    loud = LoudestSpeakers(2, hold_ms=2000)
    everyone = set(JOINED)
    assert loud.update({"a": 10, "b": 8}, everyone, 0) == ["a", "b"]
    assert set(loud.update({"a": 10, "b": 8, "c": 6}, everyone, 50)) == {"a", "b", "c"}  # size + 1
    ranking = loud.update({"a": 0, "b": 9, "c": 7, "d": 20}, everyone, 100)
    assert "d" in ranking and "a" not in ranking  # the quietest (silent) member gave up its place
    assert "b" in loud.update({"b": 0, "c": 7, "d": 20}, everyone, 1500)  # a breath: still in
    assert "b" not in loud.update({"b": 0, "c": 7, "d": 20, "e": 5}, everyone, 2200)


def test_the_muted_and_the_departed_leave_the_ranking_at_once():
    loud = LoudestSpeakers(3)
    loud.update({"a": 10, "b": 8}, set(JOINED), 0)
    assert loud.update({"a": 10, "b": 8}, {"b"}, 10) == ["b"]


def test_slots_keep_who_stays_and_give_freed_slots_to_newcomers_in_order():
    assert assign_slots([None, None, None], ["a", "b"]) == ["a", "b", None]
    assert assign_slots(["a", "b", "c"], ["c", "d", "a"]) == ["a", "d", "c"]
    assert assign_slots(["a", "b"], ["x", "y", "z"]) == ["x", "y"]
    assert assign_slots(["a", None], []) == [None, None]


def test_who_is_heard_stays_heard_until_someone_clearly_louder_comes():
    ranking = ["a", "b", "c"]  # the room's loudest three, for subscriber "s" with a limit of two
    everyone = ["s", "a", "b", "c", "d"]
    first = audio_set(2, "s", ranking, everyone, {"a": 20, "b": 10, "c": 9}, [])
    assert first == ["a", "b"]
    # c gets a little louder than b: a breath, not a reason to cut b off
    assert audio_set(2, "s", ranking, everyone, {"a": 20, "b": 10, "c": 11}, first) == ["a", "b"]
    # c is clearly louder than the quietest heard: it takes that place at once
    assert audio_set(2, "s", ranking, everyone, {"a": 20, "b": 10, "c": 30}, first) == ["a", "c"]
    # b left the room's loudest: its place goes to the next loudest
    assert audio_set(2, "s", ["a", "c"], everyone, {"a": 20, "c": 5}, ["a", "b"]) == ["a", "c"]


def test_limits_of_one_and_rooms_exactly_at_the_limit():
    cameras = {"a", "b", "c"}
    assert video_set(1, cameras, None, None, ["c", "c"], JOINED) == ["c"]  # a limit of one is a limit
    assert video_set(0, cameras, "b", None, ["b", "a", "b"], JOINED) == ["b", "a", "c"]  # each once
    assert audio_set(1, "a", ["c", "b"], ["a", "b", "c"]) == ["c"]  # a limit of one is a limit
    assert audio_set(2, "a", ["c"], ["a", "b", "c"]) == ["b", "c"]  # exactly the limit: everyone, join order


def test_a_newcomer_must_be_louder_than_the_quietest_member_to_take_its_place():
    loud = LoudestSpeakers(1, hold_ms=2000, speaking_score=3.0)  # holds 2
    everyone = set(JOINED)
    assert loud.update({"a": 5.0, "b": 4.0}, everyone, 0) == ["a", "b"]
    assert loud.update({"a": 5.0, "b": 4.0, "c": 4.0}, everyone, 10) == ["a", "b"]  # as loud is not enough
    assert loud.update({"a": 5.0, "b": 4.0, "c": 4.5}, everyone, 20) == ["a", "c"]  # louder: takes b's place
    # the quietest is chosen by score, then by who spoke longest ago
    tie = LoudestSpeakers(1)
    tie.update({"a": 5.0}, everyone, 0)
    tie.update({"b": 5.0}, everyone, 100)
    assert tie.update({"a": 0.0, "b": 0.0, "c": 3.0}, everyone, 200) == ["c", "b"]  # a spoke longest ago
    assert tie.update({"d": 2.99}, everyone, 300) == ["c", "b"]  # below the speaking score: not a speaker
    assert tie.update({"c": 3.0, "b": 0.0}, everyone, 2100) == ["c", "b"]  # b spoke at 100: exactly the hold
    assert tie.update({"c": 3.0}, everyone, 2100.5) == ["c"]  # b: past the hold


def test_the_ranking_puts_speakers_first_then_the_most_recent():
    loud = LoudestSpeakers(3)
    everyone = set(JOINED)
    loud.update({"a": 9.0}, everyone, 0)
    loud.update({"b": 9.0}, everyone, 10)
    loud.update({"c": 9.0}, everyone, 20)
    assert loud.update({"a": 4.0}, everyone, 30) == ["a", "c", "b"]  # a speaks now; c and b are pausing
    assert loud.members == ["a", "b", "c"]


def test_slots_never_place_one_source_twice():
    assert assign_slots([None, None, None], ["a", "a", "b"]) == ["a", "b", None]
    assert assign_slots(["a", None], ["a", "b", "b"]) == ["a", "b"]
