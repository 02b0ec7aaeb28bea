"""Summarise a mutmut run over router/: score per module, and every mutant that no test killed, with why.

`make mutate` runs mutmut (which writes its results next to the mutated copies in mutants/) and
then this script. Each surviving mutant is printed as the line it changed, before and after, with
the reason it is left alive: the first rule in `RULES` that matches it (reviewed by hand against
router/; each rule is narrow enough that its reason holds for every mutant it matches). Survivors
that no rule explains are listed separately. `--markdown` writes the same listing for
docs/mutation-survivors.md. The exit status is 1 when the score is below `--min-score`.

Score = (killed + timed out) / (all mutants - skipped), mutmut's own definition: a mutant that no
test even runs ("no tests") counts as a survivor.

Two checks keep the reasons honest when the results are older than the code or the tests:
- a survivor whose changed line is no longer in the package's current source is reported as
  "changed since the run" (the rules judged the old line, not today's);
- a survivor decided before mutmut last collected the test list (an incremental `mutmut run NAMES`
  re-checks only the names given) is "stale": rules marked `stale_only` say which later test is
  expected to kill it; `--recheck` prints the stale survivors' names for `mutmut run`.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

KILLED = {1, 3}
TIMEOUT = {36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


def status(code: int | None) -> str:
    if code is None:
        return "not checked"
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    if code in SKIPPED:
        return "skipped"
    return "suspicious"


@dataclass(frozen=True)
class Rule:
    """Why mutants of `where` (regex on "module.Class.function") whose change matches `change` survive."""

    kind: str  # the group counted in the summary
    where: str
    change: str  # regex searched in "before  ->  after"
    why: str
    context: str = ""  # regex searched in the three unchanged lines above the change
    stale_only: bool = False  # only for stale verdicts: a later test is expected to kill it

    def matches(self, where: str, change: str, context: str, stale: bool) -> bool:
        return ((stale or not self.stale_only) and re.fullmatch(self.where, where) is not None
                and re.search(self.change, change) is not None and re.search(self.context, context) is not None)


EQUIVALENT = "equivalent"
IN_USE = "equivalent in use"
TUNING = "tuning constant"
METRIC = "metric counter"
EDGE = "edge no real input reaches"
CLOCK = "clock scale or rounding"
GAP = "gap"
LATER_TEST = "stale: a later test targets it"
STALE = "stale: not re-checked"
CHANGED = "changed since the run"
UNEXPLAINED = "unexplained"

_TRUTH = "only ever tested for truth: None is falsy like False"
_NONE_BOOL = r"= (False|0)\b.*->  .*= None\b"

#: Reviewed against router/ as it was when these results were recorded. Order matters: the first match wins;
#: `stale_only` rules (a later test is expected to kill the mutant) come last and never explain a fresh verdict.
RULES: list[Rule] = [
    # --- allocation ---------------------------------------------------------------------------------------
    Rule(EQUIVALENT, r"allocation\._rank", r"return -2 if",
         "any negative rank puts 'no layer' below every layer index (>= 0) in each comparison _rank feeds"),
    Rule(EQUIVALENT, r"allocation\.BandwidthAllocator\._fit", r"ideal is None and ideal <= current|ideal < current:$",
         "when ideal <= current the upgrade loop's range (current, ideal] is empty, so skipping it changes nothing "
         "(ideal is None only when current is None too)"),
    Rule(EQUIVALENT, r"allocation\.BandwidthAllocator\._fit", r"->  .*if current <= i <= ideal",
         "the extra candidate i == current costs nothing and comes last (descending order): taking it changes nothing"),
    Rule(GAP, r"allocation\.BandwidthAllocator\.(__init__|_maybe_probe)",
         r"_base_probe = None|_probe_interval = None|^if key in result and _rank\(result\[key\]\) >= layer and budget",
         "gap: whether the estimate followed a probe only sets the next probe interval (reset or doubled); no test "
         "lets a followed probe be followed by another probe"),
    Rule(GAP, r"allocation\.BandwidthAllocator\._maybe_probe", r"->  if _rank\(None\) < layer",
         "gap: no test raises the estimate during a probe's 2 s hold far enough for a higher layer; the mutant "
         "would hold the video at the probe layer"),
    Rule(EQUIVALENT, r"allocation\.BandwidthAllocator\._maybe_probe", r"->  if _rank\(result\[key\]\) <= layer",
         "when equal, result[key] = layer assigns the value it already has"),
    Rule(GAP, r"allocation\.BandwidthAllocator\._maybe_probe", r"->  if allocated < 0 or",
         "gap: no test runs the probe timer while nothing is allocated (every video paused or unsendable); "
         "the mutant would then probe a paused video on"),
    Rule(IN_USE, r"allocation\.BandwidthAllocator\._maybe_probe", r"->  if allocated <= 1 or",
         "allocated is a sum of measured bitrates x 1.1: 0, or hundreds of bits/s at least, never in (0, 1]"),
    Rule(EDGE, r"allocation\.BandwidthAllocator\._maybe_probe", r"budget <= 1\.2 \* allocated",
         "equality of a REMB estimate and 1.2 x a measured bitrate (continuous values)"),
    Rule(GAP, r"allocation\.BandwidthAllocator\._maybe_probe",
         r"ideal is None and _rank|_rank\(None\) >= ideal|_rank\(current\) > ideal|^continue  ->  break",
         "gap: no test probes while a video that already has its ideal layer (or none) comes before one that "
         "does not; the mutants raise or stop there"),
    Rule(EQUIVALENT, r"allocation\.BandwidthAllocator\._maybe_probe", r'_headroom_since = ""',
         "never read: while a probe runs _maybe_probe returns before reading it, and ending the probe sets None"),
    Rule(GAP, r"allocation\.BandwidthAllocator\.allocate", r"_fits_since\.pop", context=r"del self\._current\[key\]",
         why="gap: no test drops a video between two allocations; the mutants keep a stale entry or raise KeyError"),
    Rule(EQUIVALENT, r"allocation\.BandwidthAllocator\.allocate", r"_fits_since\.pop\(None, None\)",
         "the entry left behind names the current layer now; any later upgrade differs from it (so it is replaced) "
         "and a same-layer fit pops it"),
    Rule(EQUIVALENT, r"allocation\.BandwidthAllocator\.allocate", r"_fits_since\.pop\(key, \)",
         "the key is present (it was just read), so pop without a default does the same"),
    Rule(GAP, r"allocation\.BandwidthAllocator\.allocate", r"self\._current = None",
         "gap: no test follows an allocation without a budget by one with a budget on the same allocator (what "
         "happens when congestion starts); the mutant raises there"),
    Rule(EQUIVALENT, r"allocation\.BandwidthAllocator\.allocate", r"->  if _rank\(wanted\) < _rank\(current\)",
         "when the fit equals the current layer the mutant notes it as an upgrade candidate: the result is the "
         "same layer, and the note is replaced as soon as another layer fits"),
    Rule(EQUIVALENT, r"allocation\.DownlinkBudget\.__init__", r"self\._hold = None",
         "never read: the first congestion event sets _hold (recent is False while _until is 0) before "
         "`_until = now + _hold`"),
    Rule(IN_USE, r"allocation\.DownlinkBudget\.budget", r"self\._until > 1 and",
         "_until is 0 before any congestion and now + hold (>= 10 s on a monotonic clock) after; nothing lies in (0, 1]"),
    Rule(EDGE, r"allocation\.DownlinkBudget\.budget", r"now - self\._until <= self\._hold",
         "congestion again exactly `hold` seconds after the last ended: equality of clock readings"),
    # --- consumer -----------------------------------------------------------------------------------------
    Rule(EQUIVALENT, r"consumer\.Consumer\.(__init__|set_producer)", r'extension_id_map(: [^=]*)? = ""',
         "never read without a producer: set_producer assigns the map before any packet, and a consumer without "
         "a producer has no runs to retransmit from"),
    Rule(EQUIVALENT, r"consumer\.Consumer\.(__init__|close)", r"self\.(active|closed) = None", _TRUTH),
    Rule(EQUIVALENT, r"consumer\.Consumer\.__init__", r"_runs_seen = None",
         "the first forwarded packet starts run 1 (SequenceRewriter._rebase counts runs), so `runs != 0` and "
         "`runs != None` agree"),
    Rule(EQUIVALENT, r"consumer\.Consumer\.__init__", r"_resent.*->  .*\[\((\+1|-2), 0\.0\)\]|\[\(-1, 1\.0\)\]",
         "-1 and -2 match no sequence number; +1 matches only with a resend time of 0.0, far more than a round "
         "trip before any monotonic reading"),
    Rule(GAP, r"consumer\.Consumer\._retransmission", r"if info\.extension_profile or self\.extension_id_map",
         "gap: no test NACKs a packet with header extensions for a consumer that needs no ID rewrite (map None); "
         "the mutant calls rewrite_extensions without a map and raises"),
    Rule(EDGE, r"consumer\.Consumer\._run_for", r"0xFFFF > 0x8000|>= 32769|0xFFFF <= 0x8000|< 32769",
         "a NACK for a number exactly half the 16-bit space from the newest sent: whether it counts as sent "
         "decides nothing real (a packet 32 768 back has left the 1 024-packet cache)"),
    Rule(EQUIVALENT, r"consumer\.Consumer\.close", r"self\._runs = None",
         "a closed consumer never reads its runs again: activate() refuses it, handle_nack needs it active, "
         "set_producer() would reset them"),
    Rule(EQUIVALENT, r"consumer\.Consumer\.handle_nack", r"if not self\.active and not lost",
         "an inactive consumer has no runs (it forwards only once active; close() clears them), so every item "
         "finds nothing either way"),
    Rule(CLOCK, r"consumer\.Consumer\.handle_nack", r"/ 1001\.0",
         "the repeat interval 0.1% shorter (30 ms becomes 29.97 ms)"),
    Rule(EDGE, r"consumer\.Consumer\.handle_nack", r"now - last\[1\] <= repeat_after",
         "a NACK exactly one round trip after the resend: equality of clock readings"),
    Rule(EQUIVALENT, r"consumer\.Consumer\.handle_nack", r"^continue  ->  break", context=r"if cache is None",
         why="cache is None only for audio layers, and an audio consumer's runs are all audio: every later item "
         "would reach this `continue` too"),
    Rule(EQUIVALENT, r"consumer\.Consumer\.handle_nack", r"^break  ->  return", "nothing follows the loop"),
    Rule(EQUIVALENT, r"consumer\.Consumer\.sender_report", r"sequence\.ssrc != layer\.media_ssrc and",
         "the rewriter's SSRC differs from the layer's only between attach() and the forward of the same packet "
         "(one call), or after that forward raised"),
    # --- demux --------------------------------------------------------------------------------------------
    Rule(EQUIVALENT, r"demux\.PacketDemux\.__init__", r'_extension_id(: [^=]*)? = ""',
         "an extension ID of '' names no element: looking it up finds nothing, as not looking (None) does"),
    Rule(EQUIVALENT, r"demux\.PacketDemux\._learn", r'decode\("ASCII"', "codec names are case-insensitive"),
    Rule(EQUIVALENT, r"demux\.PacketDemux\._learn", r"if \(ext_id is not None\) or True",
         "find_extension with the ID None finds nothing (no element has that ID): the same as not looking"),
    Rule(METRIC, r"demux\.PacketDemux\.handle_rtp", r"if \(len\(data\) >= 12\) or True|else \+1$",
         "a packet under 12 bytes is dropped either way; it may be counted as malformed instead of unknown "
         "when its partial SSRC happens to be bound"),
    Rule(EQUIVALENT, r"demux\.PacketDemux\.handle_rtp", r"else -2$", "any negative value means 'no SSRC'"),
    Rule(EQUIVALENT, r"demux\.PacketDemux\.handle_rtp", r'from_bytes\(data\[8:12\], \)',
         "int.from_bytes defaults to big-endian since Python 3.11 (the project's minimum)"),
    Rule(EQUIVALENT, r"demux\.PacketDemux\.handle_rtp", r"data\[0\] \| 0x10|data\[0\] & 17",
         "a packet without the X bit has no extension block: the transport-cc lookup finds nothing"),
    Rule(EQUIVALENT, r"demux\.PacketDemux\.subscriber_estimate", _NONE_BOOL, _TRUTH),
    Rule(EQUIVALENT, r"demux\.PacketDemux\.subscriber_estimate", r"if sent >= 0 and",
         "with nothing sent the test is bps < 0, false for any estimate (REMB bitrates are never negative)"),
    Rule(EQUIVALENT, r"demux\.PacketDemux\._record_transport_cc", r"^assert ",
         "an assertion that always holds: enable_transport_cc sets both fields, and only then is this called"),
    Rule(CLOCK, r"demux\.PacketDemux\._record_transport_cc", r"// 1001",
         "arrival times 0.1% slow (the wall clock, which no test controls)"),
    Rule(GAP, r"demux\.PacketDemux\.transport_feedback", r"media = next",
         "gap: no test asks for transport feedback before any media SSRC is bound (transport-cc packets that "
         "arrive first, e.g. RTX probes); two mutants raise there, one names SSRC 1 instead of 0"),
    # --- header extensions, keyframes ---------------------------------------------------------------------
    Rule(EQUIVALENT, r"header_extensions\._locate", r"profile = None",
         "the fallback loop (_elements) reads the profile itself and finds the same element"),
    Rule(EQUIVALENT, r"header_extensions\.rewrite_extensions", r"buf\[0\] \| 0x10|buf\[0\] & 17",
         "a packet without the X bit comes out of the re-encoding path unchanged: no elements, X stays clear, "
         "the payload is copied from the same offset"),
    Rule(EQUIVALENT, r"keyframes\._h264", r"while pos \+ 2 <= n",
         "with two bytes left the unit read next cannot fit (or is empty): False, as the loop's exit gives"),
    # --- layer --------------------------------------------------------------------------------------------
    Rule(METRIC, r"layer\.Layer\._stalled", r"self\.stalls = 1", "stream_stalls metric; the tests see one stall each"),
    Rule(METRIC, r"layer\.Layer\.pli_if_due", r"keyframe_requests_sent = 1",
         "keyframe_requests metric; the test counts only the first PLI of the timer"),
    Rule(METRIC, r"layer\.Layer\.receive_rtx", r"self\.recovered = 1",
         "received_packets metric; the tests recover one packet per layer"),
    Rule(EQUIVALENT, r"layer\.Layer\._stalled", r"request_keyframe\((None, )?urgent=True\)",
         "`now` is time.monotonic() read moments earlier in receive(); request_keyframe() reads the same clock"),
    Rule(IN_USE, r"layer\.Layer\.active", r"self\.packets >= 0",
         "with no packet last_arrival is 0.0, and `now - 0.0 < 1 s` only in the monotonic clock's first second"),
    Rule(GAP, r"layer\.Layer\.active", r"self\.packets > 1",
         "gap: no test asks after exactly one packet; the mutant calls such a layer inactive until its second "
         "(milliseconds of video)"),
    Rule(LATER_TEST, r"layer\.Layer\.close", r"self\.pending = None",
         "test_layer_counters_and_bitrate_are_exact asserts pending == [] after close(); this mutant was still "
         "running when the re-check stopped (its estimate was saved, its verdict was not)"),
    Rule(EQUIVALENT, r"layer\.Layer\.ntp_of", r"\(\(timestamp - rtp - 0x80000000\)",
         "-0x80000000 and +0x80000000 are congruent modulo 2^32, before the mask"),
    Rule(CLOCK, r"layer\.Layer\.ntp_of", r"0xFFFFFFFF\) \+ 0x80000000",
         "the instant is off by exactly 2^32 ticks, which timestamp_at() (its only user, same clock rate) maps "
         "back to the same 32-bit timestamp, up to one tick of float rounding"),
    Rule(EQUIVALENT, r"layer\.Layer\.receive_rtx", r"malformed", context=r"rinfo = parse_rtp",
         why="(the `except` after unwrap) unreachable: the `< 2` check excludes the only input unwrap_rtx "
         "rejects, and the restored header is the RTX packet's, which parsed"),
    Rule(GAP, r"layer\.Layer\.receive_rtx", r"time\.monotonic\(\) (/ 1000\.0|\* 1001\.0)\)",
         "gap: the repair's arrival time feeds the consumer's elapsed-time estimate at its next rebase; no test "
         "checks the timestamp after a rebase that follows an in-order RTX repair"),
    Rule(IN_USE, r"layer\.Layer\.receiver_report", r"self\.media_ssrc is None and stats\.max_seq is None",
         "stats exist only once a packet was counted (max_seq is then set), and only bound layers receive packets"),
    Rule(EQUIVALENT, r"layer\.Layer\.receiver_report", r"if 0 <= delay < 65536",
         "a delay of exactly 0 gives dlsr int(0) = 0, the default"),
    Rule(EDGE, r"layer\.Layer\.receiver_report", r"delay <= 65536|delay < 65537",
         "a last sender report exactly 65 536 s (18 h) old, or within the second after: a publisher sending RTP "
         "for 18 hours without one SR"),
    Rule(CLOCK, r"layer\.Layer\.receiver_report", r"delay \* 65537",
         "DLSR 1/65 536 too large: 15 us per second of delay"),
    Rule(GAP, r"layer\.Layer\.request_missing", r"rerequest\(sequence, time\.monotonic\(\) \* 1001\.0\)",
         "gap: a re-requested packet stamped on a 0.1% faster clock lies in the future and does not age out (it "
         "still stops after max_retries); no test checks when a re-requested packet is given up"),
    Rule(IN_USE, r"layer\.Layer\.send_nack", r"if nack is None and self\.media_ssrc is None",
         "every caller checks `nack is not None` first, and only bound layers (media SSRC known) receive packets"),
    # --- nack tracker, packet history, producer -----------------------------------------------------------
    Rule(EDGE, r"nack_tracker\.NackTracker\._extend", r"delta <= 0x8000|delta < 32769",
         "a sequence number exactly half the 16-bit space from the highest: ahead or behind is a convention; "
         "only a broken sender puts a keyframe or repair there"),
    Rule(EQUIVALENT, r"nack_tracker\.NackTracker\.recovered", r"if self\._missing or self\._highest",
         "missing entries exist only while a highest is known (reset clears both), and popping from an empty "
         "table does nothing"),
    Rule(GAP, r"nack_tracker\.NackTracker\.recovered", r"pop\(self\._extend\(sequence\), \)",
         "gap: no test brings a repair for a packet no longer missing while others are (a duplicate "
         "retransmission); the mutant raises KeyError there"),
    Rule(GAP, r"nack_tracker\.NackTracker\.rerequest", r"not 1 < self\._highest",
         "gap: no test re-requests the packet just before the highest (1 behind); the mutant refuses it"),
    Rule(EQUIVALENT, r"nack_tracker\.NackTracker\.rerequest", r"-1e\+18", "the same float literal"),
    Rule(GAP, r"nack_tracker\.NackTracker\.rerequest", r"-1e18, 1\.0\]",
         "gap: a re-requested packet would start with one request counted (9 retries, not 10); no test counts "
         "a re-requested packet's retries"),
    Rule(EQUIVALENT, r"packet_history\.PacketHistory\.clear", r"\[(\+1|-2)\] \* cap",
         "a cleared slot holds no packet (None), so a sequence that matches its marker still yields None"),
    Rule(EQUIVALENT, r"producer\.Producer\.rtcp_tick", r"^out \+= .*->  out = ",
         "`out` is still empty there, so `+=` and `=` agree"),
    Rule(IN_USE, r"producer\.Producer\.rtcp_tick", r"blocks\[:32\]",
         "one report block per layer, and the SDP parser allows at most 3 layers (MAX_SIMULCAST_LAYERS)"),
    # --- rtt, rtx, seqmap, selection ----------------------------------------------------------------------
    Rule(TUNING, r"rtt\.RttEstimator\.sr_sent", r"len\(sent\) >= _KEEP",
         "keeps the last 31 sender reports instead of 32 (a memory bound; receivers echo the newest SR)"),
    Rule(EQUIVALENT, r"rtx\.wrap_rtx", r"out = bytearray",
         "the initial buffer length does not matter: `out[start + 2 :] = ...` replaces everything after the OSN"),
    Rule(EQUIVALENT, r"seqmap\.SequenceRewriter\._restart", r"self\._skipping = (None|False)",
         "overwritten at once: _rebase(), called next, sets _skipping = False"),
    Rule(GAP, r"selection\.LoudestSpeakers\.update", r"quietest = min.*->  .*scores\.get\((None, 0\.0|0\.0)\)",
         "gap: the quietest member is chosen by score, then age; no test has a quieter member that spoke more "
         "recently than a louder one, so choosing by age alone passes"),
    Rule(IN_USE, r"selection\.LoudestSpeakers\.update", r"scores\.get\((p|quietest), (None|1\.0|)\)",
         "the default is never read in use: sfu/room.py passes ActiveSpeakerDetector.recent_scores, which has an "
         "entry for everyone it has heard, and a member got in by being heard"),
    # --- speaker ------------------------------------------------------------------------------------------
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.__init__",
         r"->  size = (2 << max\(4|1 << max\(5|.*window_ms / 10\))",
         "a larger ring keeps older entries that the time window excludes anyway: the same scores, more memory"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.__init__", r"log2\(max\(2, window_ms // 10\)\)",
         "the 16-slot floor (2^4) dominates for the windows this changes (under 20 ms)"),
    Rule(IN_USE, r"speaker\.ActiveSpeakerDetector\.__init__", r"window_ms // 11",
         "for the default 1.5 s window (the one sfu/room.py uses) 1500 // 11 and 1500 // 10 both give 256 slots"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.__init__", r"rows = 9",
         "one more row at first: rows are handed out and grown differently, scores are the same"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.(__init__|_add|remove)",
         r"np\.full\(\(rows, size\), None|full_like\(self\._times, None\)|_times\[row\]\.fill\(None\)",
         "NaN compares false like -inf: such a slot is never recent"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.__init__", r"np\.full\(\(rows, size\), -np\.inf, (dtype=None)?\)",
         "np.full infers float64 from -inf anyway"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.__init__", r"np\.zeros\(\(rows, size\), (dtype=None)?\)",
         "activities are small integers, exact in float32 and float64; scores are computed in float64 either way"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.(__init__|_add)", r"_pos(: list\[int\])? \+?= \[1\]|_vad(: list\[bool\])? \+?= \[True\]",
         "overwritten before use: _add() sets _pos[row] = 0 and _vad[row] = False when it hands out a row"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.__init__",
         r"_free: list\[int\] = (None|list\(range\((-1, -1|rows - 1, -1|rows - 1, -1, |rows - 2, -1, -1|"
         r"rows - 1, \+1, -1|rows - 1, -1, \+1|rows - 1, -1, -2)\)\))$",
         "fewer rows handed out before the table grows: only memory and row numbers change, not scores"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\._add",
         r"range\(2 \* old - 2, old - 1, -1\)\)$|range\(2 \* old - 1, old \+ 1, -1\)\)$|range\(2 \* old - 1, old - 1, -2\)\)$",
         "fewer new rows handed out before the table grows again: only memory and row numbers change"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\._add", r"self\._pos\[row\] = 1",
         "where a row's ring starts writing does not matter: scores select entries by time, not position"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\._add", r"self\._vad\[row\] = None", _TRUTH),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.observe", r"\(i - 1\) & self\._mask",
         "the ring filled backwards uses the same slots; scores select entries by time"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.observe", r"if activity >= 0 else 0",
         "an activity of 0 is stored as 0 either way"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.poll", r"if best_id is None and best_id == current",
         "after the min-score check the best row is a participant's (free rows score 0), and the current "
         "speaker never beats itself by ratio x score + margin (ratio >= 1, margin >= 0)"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.remove", r"_activity\[row\]\.fill\((None|1)\)",
         "a removed row's times are -inf, so its activity is never summed"),
    Rule(EQUIVALENT, r"speaker\.ActiveSpeakerDetector\.remove", r'_ids\[row\] = ""',
         "a free row scores 0, below the minimum, so poll never reads its id"),
    # --- twcc ---------------------------------------------------------------------------------------------
    Rule(EQUIVALENT, r"twcc\._chunks", r'pack\("!h", \(symbol << 13\) \| run\)',
         "a run-length chunk is below 0x8000 (T = 0), so '!h' packs the same two bytes"),
    Rule(EQUIVALENT, r"twcc\.build_feedback", r"->  header = struct\.pack\(\"!BBH\", (129 \||0x80 \| \(33 if|0x80 \| \(0x20 if padding else 1\))",
         "bit 0 is already set by TRANSPORT_CC_FMT (15)"),
    Rule(EQUIVALENT, r"twcc\.parse_feedback_fci", r'unpack_from\("!h", data, pos\)',
         "& and >> on the signed value give the same low 16 bits (two's complement)"),
    Rule(EQUIVALENT, r"twcc\.TwccRecorder\.__init__", r'self\._next(: [^=]*)? = ""',
         "overwritten by the first record() before feedback() can read it"),
    Rule(EQUIVALENT, r"twcc\.TwccRecorder\.feedback", r"start is None and self\._highest is None",
         "_next and _highest are set together by the first record()"),
    Rule(EQUIVALENT, r"twcc\.TwccRecorder\.feedback", r"if not arrivals and start is None or",
         "with nothing recorded since the last call _next is already highest + 1: the walk finds nothing, returns []"),
    Rule(EQUIVALENT, r"twcc\.TwccRecorder\.feedback", r"range\(seq, end \+ 2\)",
         "no arrival is recorded above the highest (`end`), so the extra index never matches"),
    Rule(EQUIVALENT, r"twcc\.TwccRecorder\.record", r"ext = sequence - 0x10000",
         "the extension base shifts every extended number by 2 x 65 536; only differences and low 16 bits are used"),
    Rule(EDGE, r"twcc\.TwccRecorder\.record", r"delta <= 0x8000|delta < 32769",
         "a transport sequence number exactly half the 16-bit space from the highest: ahead or behind is a "
         "convention; no sender jumps 32 768 packets"),
    Rule(EQUIVALENT, r"twcc\.TwccRecorder\.record", r"if ext >= highest",
         "when ext equals highest, assigning it changes nothing"),
    # --- stale verdicts that a test added after them targets (checked by reading the test) --------------------
    *(Rule(LATER_TEST, where, r"", f"{tests} (added after this verdict) should kill it", stale_only=True)
      for where, tests in (
        (r"allocation\.BandwidthAllocator\.(__init__|allocate|_maybe_probe)",
         "test_the_default_timings_upgrade_after_one_second_and_probe_after_three, "
         "test_a_failed_probe_doubles_the_wait_up_to_thirty_seconds, test_a_probe_is_held_two_seconds_unless_the_estimate_falls"),
        (r"allocation\.(BandwidthAllocator\._fit|VideoDemand\..*)",
         "test_unsendable_and_settled_videos_do_not_stop_the_others, test_a_video_that_exactly_fits_gets_its_layer"),
        (r"allocation\.DownlinkBudget\..*", "test_congestion_events_are_counted_and_the_hold_grows_twofold_up_to_its_maximum"),
        (r"consumer\.Consumer\.(__init__|_note_run|_run_for|_retransmission)",
         "test_nacks_across_the_sequence_wrap_and_for_the_oldest_kept_runs_are_answered, "
         "test_a_consumer_without_a_source_ignores_nacks_and_has_no_report, "
         "test_without_rtx_a_nack_is_answered_with_the_media_packet_itself"),
        (r"consumer\.Consumer\.handle_nack",
         "test_a_nack_is_answered_again_after_a_round_trip_and_same_slot_numbers_do_not_block_each_other, "
         "test_the_budget_refills_between_nacks_and_a_packet_never_received_does_not_stop_the_rest"),
        (r"consumer\.Consumer\.sender_report", "test_a_consumer_that_stopped_forwarding_sends_no_sender_report"),
        (r"demux\.PacketDemux\.(__init__|handle_rtcp)", "test_feedback_counts_can_be_shared_and_remb_reads_at_most_64_ssrcs"),
        (r"demux\.PacketDemux\._learn",
         "test_packets_that_cannot_be_bound_are_counted_as_unknown_never_bound, test_media_and_rtx_streams_together_are_limited"),
        (r"demux\.PacketDemux\.handle_rtp", "test_ssrc_zero_and_header_only_packets_are_ordinary_streams"),
        (r"demux\.PacketDemux\.subscriber_estimate",
         "test_estimates_expire_exactly_after_five_seconds_and_a_stale_one_hides_no_fresh_one"),
        (r"header_extensions\.rewrite_extensions", "test_mapping_to_id_14_with_a_dropped_element_is_patched_in_place"),
        (r"keyframes\._h264", "test_h264_edges_one_byte_nal_units_stap_a_sizes_and_short_fu_a"),
        (r"layer\.Layer\.(measure|receive_rtx|receiver_report|on_sender_report)",
         "test_layer_counters_and_bitrate_are_exact, test_receiver_reports_echo_the_publishers_last_sender_report, "
         "test_a_receiver_report_right_after_a_sender_report_has_a_tiny_delay, "
         "test_a_keyframe_recovered_over_rtx_starts_a_waiting_consumer, "
         "test_rtx_edge_cases_an_empty_original_audio_rtx_and_a_restart_after_a_repair"),
        (r"layer\.Layer\.(pli_if_due|request_keyframe|request_missing|send_nack)",
         "test_keyframe_requests_from_the_timer_are_counted_and_a_layer_without_ssrc_sends_nothing, "
         "test_audio_layers_need_no_keyframe_requests_and_survive_a_stall, "
         "test_keyframe_requests_on_the_own_clock_and_a_rerequest_waits_a_round_trip_to_repeat"),
        (r"nack_tracker\.NackTracker\.(_extend|due|rerequest)",
         "test_a_keyframe_clears_the_gaps_before_it_and_only_those, "
         "test_due_counts_requests_and_abandonments_and_waits_a_full_interval, "
         "test_recovered_clear_before_and_rerequest_at_their_edges"),
        (r"producer\.Producer\.observe_audio_level", "test_audio_levels_feed_the_speaker_observer (now checks the time)"),
        (r"producer\.Producer\.set_paused", "test_resuming_queues_the_consumers_of_every_layer_even_after_one_without_any"),
        (r"rtcp_feedback\.KeyframeRequestLimiter\..*", "test_limiter_pending_flag_is_a_boolean_that_due_and_reset_clear"),
        (r"rtp_header\.rewritten_rtp", "test_rewriting_replaces_the_whole_payload_type_and_keeps_the_marker"),
        (r"rtt\.RttEstimator\..*",
         "test_samples_are_exact_smoothed_counted_and_bounded, test_a_report_sent_again_moves_to_the_newest_and_only_32_are_kept"),
        (r"speaker\.ActiveSpeakerDetector\..*",
         "test_default_thresholds_exactly, test_a_challenger_exactly_at_the_switch_threshold_takes_over, "
         "test_a_sender_that_flags_voice_activity_is_trusted_afterwards, "
         "test_rows_are_reused_and_grown_without_carrying_anything_over, test_the_ring_keeps_the_newest_packets_when_it_wraps"),
        (r"twcc\.(_chunks|TwccRecorder\.feedback)",
         "test_run_lengths_one_bit_and_two_bit_vectors_are_chosen_by_the_rule, "
         "test_the_recorder_places_late_packets_caps_its_memory_and_counts_messages"),
      )),
]


# --- reading mutmut's files -------------------------------------------------------------------------------


def function_sources(path: Path) -> dict[str, str]:
    """Mutant function name (as mutmut keys it, without the module) -> its source."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "__mutmut_" in node.name:
            out[node.name] = "\n".join(lines[node.lineno - 1 : node.end_lineno])
    return out


def current_sources(path: Path) -> dict[str, str]:
    """Qualified name ("Class.method" or "function") -> its stripped source lines, from today's package."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out: dict[str, str] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out[prefix + node.name] = "\n".join(line.strip() for line in lines[node.lineno - 1 : node.end_lineno])

    visit(ast.parse(text).body, "")
    return out


def changed_lines(original: str, mutant: str) -> tuple[list[str], list[str], str]:
    """(lines removed, lines added, the three unchanged lines above the first change); def lines
    included, as default values mutate."""
    old = [line.strip() for line in original.splitlines()]
    new = [line.strip() for line in mutant.splitlines()]
    old[0] = old[0].split("(", 1)[-1]  # the def lines differ in the function's name only
    new[0] = new[0].split("(", 1)[-1]
    removed: list[str] = []
    added: list[str] = []
    above: list[str] = []
    for line in difflib.ndiff(old, new):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
        elif line.startswith("  ") and not removed and not added:
            above = [*above[-2:], line[2:]]
    return removed, added, " / ".join(above)


def readable_name(name: str) -> str:
    """mutmut's mangled function name -> "Class.method" or "function"."""
    if name.startswith("xǁ"):
        return name[2:].replace("ǁ", ".")
    return name.removeprefix("x_")


def stale_mutants(mutants: Path, metas: list[Path]) -> set[str]:
    """Mutants whose verdict predates mutmut's current test list (mutmut-stats.json).

    mutmut 3.8 records, per mutant, the estimated duration of its tests when it was last run; a
    fresh run or a re-check computes it from the current stats, so a value that no longer matches
    the current stats means the verdict came from an earlier run (and perhaps fewer tests).
    """
    stats_path = mutants / "mutmut-stats.json"
    if not stats_path.exists():
        return set()
    stats = json.loads(stats_path.read_text())
    tests: dict[str, list[str]] = stats.get("tests_by_mangled_function_name", {})
    durations: dict[str, float] = stats.get("duration_by_test", {})
    out: set[str] = set()
    for meta in metas:
        estimates: dict[str, float] = json.loads(meta.read_text()).get("estimated_durations_by_key", {})
        for key, estimate in estimates.items():
            now = sum(durations.get(test, 0.0) for test in tests.get(key.rsplit("__mutmut_", 1)[0], []))
            if not math.isclose(estimate, now, rel_tol=1e-9, abs_tol=1e-12):
                out.add(key)
    return out


# --- the report -------------------------------------------------------------------------------------------


def explain(s: dict[str, str], current: dict[str, str] | None, removed: list[str]) -> tuple[str, str]:
    """(kind, why) for one survivor: the source check first, then the rules, then the fallbacks."""
    stale = s["stale"] == "yes"
    if current is not None:
        function = current.get(s["function"])
        if function is None or any(line not in function for line in removed if line):
            return CHANGED, "the mutated line is no longer in the current source: re-run mutmut to judge it"
    for rule in RULES:
        if rule.matches(s["where"], s["change"], s["context"], stale):
            return rule.kind, rule.why
    if stale:
        return STALE, "decided before later tests were added; re-check it (see --recheck)"
    return UNEXPLAINED, ""


def score(c: Counter[str]) -> float:
    tested = sum(c.values()) - c["skipped"]
    return 100.0 * (c["killed"] + c["timeout"]) / tested if tested else 100.0


def module_table(per_module: dict[str, Counter[str]], totals: Counter[str]) -> list[tuple[str, ...]]:
    rows = [("module", "mutants", "killed", "timeout", "survived", "no tests", "score")]
    for module, c in [*sorted(per_module.items()), ("total", totals)]:
        if not sum(c.values()):
            continue
        rows.append((module, str(sum(c.values())), str(c["killed"]), str(c["timeout"]), str(c["survived"]),
                     str(c["no tests"]), f"{score(c):.1f}%"))
    return rows


def write_markdown(path: Path, package: str, rows: list[tuple[str, ...]], kinds: Counter[str],
                   survivors: list[dict[str, str]]) -> None:
    out = [
        f"# Surviving mutants in {package}/",
        "",
        "Generated by `scripts/mutation_report.py --markdown` from mutmut's results (`make mutate`);",
        "see docs/testing.md. Each line: the mutant (`mutmut show NAME` prints its diff), the line it",
        "changed, and why it is left alive.",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + " --- |" * len(rows[0]),
        *("| " + " | ".join(row) + " |" for row in rows[1:]),
        "",
        "| reason | survivors |",
        "| --- | --- |",
        *(f"| {kind} | {count} |" for kind, count in kinds.most_common()),
        "",
    ]
    for kind, _ in kinds.most_common():
        out += [f"## {kind}", ""]
        for s in survivors:
            if s["kind"] == kind:
                why = f" — {s['why']}" if s["why"] else ""
                change = s["change"].replace("`", "'")
                out.append(f"- `{s['mutant']}` ({s['status']}): `{change}`{why}")
        out.append("")
    path.write_text("\n".join(out), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--package", default="router")
    parser.add_argument("--source", type=Path, help="today's package directory (default: ./PACKAGE)")
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument("--json", type=Path, help="also write the survivors and counts here")
    parser.add_argument("--markdown", type=Path, help="also write the survivor listing here (Markdown)")
    parser.add_argument("--recheck", action="store_true", help="only print the stale survivors' names")
    args = parser.parse_args()

    root = args.mutants / args.package
    source_dir: Path = args.source or Path(args.package)
    metas = sorted(root.glob("*.py.meta"))
    if not metas:
        print(f"no mutmut results under {root}: run `make mutate` first", file=sys.stderr)
        return 2
    stale = stale_mutants(args.mutants, metas)
    totals: Counter[str] = Counter()
    per_module: dict[str, Counter[str]] = {}
    survivors: list[dict[str, str]] = []
    for meta in metas:
        source = meta.with_suffix("")  # router/x.py.meta -> router/x.py
        module = f"{args.package}.{source.stem}"
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        counts = per_module.setdefault(module, Counter())
        functions: dict[str, str] | None = None
        current = current_sources(source_dir / source.name) if source_dir.is_dir() else None
        for key, code in sorted(codes.items(), key=lambda kv: (kv[0].rsplit("_", 1)[0], int(kv[0].rsplit("_", 1)[1]))):
            verdict = status(code)
            counts[verdict] += 1
            totals[verdict] += 1
            if verdict not in ("survived", "no tests", "suspicious", "not checked"):
                continue
            if functions is None:
                functions = function_sources(source)
            name, number = key.split(".", 2)[-1].rsplit("__mutmut_", 1)  # router.x.NAME__mutmut_N
            original = functions.get(name + "__mutmut_orig", "")
            removed, added, context = changed_lines(original, functions.get(key.split(".", 2)[-1], "x()"))
            change = f"{' / '.join(removed) or '(nothing)'}  ->  {' / '.join(added) or '(line removed)'}"
            s = {"mutant": key, "status": verdict, "function": readable_name(name), "number": number,
                 "where": f"{source.stem}.{readable_name(name)}",
                 "change": change if original else "(source not found)", "context": context,
                 "stale": "yes" if key in stale else "no"}
            s["kind"], s["why"] = explain(s, current, removed)
            survivors.append(s)

    if args.recheck:
        print("\n".join(s["mutant"] for s in survivors if s["stale"] == "yes"))
        return 0
    rows = module_table(per_module, totals)
    for row in rows:
        print(f"{row[0]:28} " + " ".join(f"{cell:>8}" for cell in row[1:]))
    if totals["not checked"]:
        print(f"\n{totals['not checked']} mutants were not checked (an interrupted run?)")
    kinds = Counter(s["kind"] for s in survivors)
    print(f"\nSurviving mutants ({len(survivors)}), by reason:")
    for kind, count in kinds.most_common():
        print(f"  {count:4}  {kind}")
    for kind, _ in kinds.most_common():
        if kind == UNEXPLAINED:
            continue
        print(f"\n{kind}:")
        for s in survivors:
            if s["kind"] == kind:
                print(f"  {s['where']} #{s['number']}: {s['change']}\n      {s['why']}")
    unexplained = [s for s in survivors if s["kind"] == UNEXPLAINED]
    if unexplained:
        print(f"\nUnexplained ({len(unexplained)}): add a rule to RULES or a test")
        for s in unexplained:
            print(f"  {s['status']:9} {s['mutant']}: {s['change']}")
    stale_survivors = sum(s["stale"] == "yes" for s in survivors)
    if stale_survivors:
        print(f"\n{stale_survivors} survivors predate the current test list; re-check them with"
              " .venv/bin/python -m mutmut run $(python3 scripts/mutation_report.py --recheck)")
    if args.json is not None:
        args.json.write_text(json.dumps({"counts": dict(totals), "score": score(totals), "reasons": dict(kinds),
                                         "survivors": survivors}, indent=1, ensure_ascii=False))
    if args.markdown is not None:
        write_markdown(args.markdown, args.package, rows, kinds, survivors)
    final = score(totals)
    print(f"\nmutation score over {args.package}/: {final:.1f}% (minimum {args.min_score:.0f}%)")
    return 0 if final >= args.min_score and not totals["not checked"] else 1


if __name__ == "__main__":
    sys.exit(main())
