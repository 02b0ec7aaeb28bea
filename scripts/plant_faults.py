"""Plant each fault of issue 13 (the faults that matter) one at a time and check that a test fails.

Each entry is a small source edit that reintroduces a bug worth catching (a consumer left active
after close, an uncapped rate-limit bucket, ...) and the tests that must notice it. The script edits
the files IN PLACE and restores them after each run, so point it at a scratch copy of the checkout:

    git archive HEAD | tar -x -C /tmp/plant && python3 scripts/plant_faults.py /tmp/plant [NAME ...]

"caught" means the tests failed with the fault planted; "SURVIVED" means they passed. Two faults survive
by design: the pause path tells consumers to skip in two places (Producer.set_paused and
Consumer.attach), each enough on its own; removing both (unmute-no-skip-anywhere) is caught.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

if len(sys.argv) < 2:
    sys.exit(__doc__)
ROOT = Path(sys.argv[1])
R = "tests/router"

FAULTS: list[tuple[str, str, str, str, str]] = [
    ("rtx-seq-never-advances", "router/consumer.py",
     "self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF", "self._rtx_sequence = self._rtx_sequence & 0xFFFF", R),
    ("sr-octets-whole-packet", "router/consumer.py",
     "self._reports.on_sent(info.payload_end - info.payload_start)", "self._reports.on_sent(len(packet))", R),
    ("sr-octets-with-padding", "router/consumer.py",
     "self._reports.on_sent(info.payload_end - info.payload_start)",
     "self._reports.on_sent(len(data) - info.payload_start)", R),
    ("sr-octets-with-extensions", "router/consumer.py",
     "self._reports.on_sent(info.payload_end - info.payload_start)",
     "self._reports.on_sent(info.payload_end - 12)", R),
    ("sr-octets-never-counted", "router/consumer.py",
     "self._reports.on_sent(info.payload_end - info.payload_start)", "pass", R),
    ("close-leaves-active", "router/consumer.py",
     "        self.closed = True\n        self.active = False\n", "        self.closed = True\n", R),
    ("close-leaves-open", "router/consumer.py",
     "        self.closed = True\n        self.active = False\n", "        self.active = False\n", R),
    ("close-keeps-producer", "router/consumer.py",
     "    def close(self) -> None:\n        self.set_producer(None)\n", "    def close(self) -> None:\n", R),
    ("no-keyframe-request-on-start", "router/consumer.py",
     "        layer.pending = [*layer.pending, self]\n        layer.request_keyframe()\n",
     "        layer.pending = [*layer.pending, self]\n", R),
    ("activate-forgets-target", "router/consumer.py",
     "        if target is not None:\n            self.set_target(target)\n", "        pass\n", R),
    ("paused-no-skip", "router/producer.py",
     "            for consumer in moving:\n                consumer.skip()\n", "", R),
    ("attach-no-skip", "router/consumer.py",
     "        self.layer = layer\n        self._sequence.skip()\n", "        self.layer = layer\n", R),
    ("unmute-keeps-attached-no-skip", "router/producer.py",
     "            for consumer in moving:\n                consumer.skip()\n            if paused or not moving:",
     "            if True:", R),
    ("unmute-no-skip-anywhere", "router/consumer.py+router/producer.py",
     "        self.layer = layer\n        self._sequence.skip()\n|||            for consumer in moving:\n                consumer.skip()\n",
     "        self.layer = layer\n|||", R + "/test_producer.py -k audio"),
    ("paused-still-forwards", "router/producer.py",
     "        if self.paused:\n            return\n        if keyframe", "        if keyframe", R),
    ("rtx-not-reported-to-nack", "router/layer.py",
     "            self.nack.recovered(rinfo.sequence)", "            pass", R),
    ("padding-probe-unwrapped", "router/layer.py",
     "if info.payload_end - info.payload_start < 2 or self.media_ssrc is None:",
     "if self.media_ssrc is None:", R),
    ("rtx-not-cached", "router/layer.py",
     "                self.cache.store(rinfo.sequence, restored)", "                pass", R),
    ("demux-rebinds-media", "router/demux.py",
     "if is_media and layer.media_ssrc is None and ssrc not in self._rtx:", "if is_media:", R),
    ("demux-rebinds-rtx", "router/demux.py",
     "if is_rtx and layer.rtx_ssrc is None and ssrc not in self._media:", "if is_rtx:", R),
    ("demux-ignores-fir", "router/demux.py", 'elif kind in ("pli", "fir"):', 'elif kind == "pli":', R),
    ("ext-id15-elements", "router/header_extensions.py",
     "            ext_id = b >> 4\n            if ext_id == 15:\n                return\n",
     "            ext_id = b >> 4\n            if ext_id == 15:\n                pos += 1\n                continue\n", R),
    ("ext-id15-locate", "router/header_extensions.py",
     "            if x_id == 15:\n                return None\n",
     "            if x_id == 15:\n                pos += 1\n                continue\n", R),
    ("ext-id15-as-element", "router/header_extensions.py",
     "            ext_id = b >> 4\n            if ext_id == 15:\n                return\n",
     "            ext_id = b >> 4\n", R),
    ("ext-id15-locate-as-element", "router/header_extensions.py",
     "            if x_id == 15:\n                return None\n", "", R),
    ("sfu-join-video-off-forwards", "sfu/participant.py",
     "        producer.paused = not self.enabled.get(source, True)\n", "", "tests/sfu/test_negotiation.py -k joining_muted"),
    ("sfu-screen-stop-noop", "sfu/participant.py",
     "        for published in screens:\n            self._unpublish(published)\n", "",
     "tests/sfu/test_negotiation.py -k stop_screen_share_alone"),
    ("sfu-rtx-without-apt", "sfu/codecs.py",
     'rtx = next((c for c in codecs if is_rtx(c) and c.parameters.get("apt") == main.payloadType), None)',
     "rtx = next((c for c in codecs if is_rtx(c)), None)", "tests/sfu/test_policy_unit.py"),
    ("sig-bucket-uncapped", "signaling/ratelimit.py",
     "self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)",
     "self.tokens = self.tokens + (now - self.updated) * self.rate", "tests/signaling/test_sig_units.py"),
    ("sig-chat-length-unchecked", "signaling/validation.py",
     "if not 1 <= len(trimmed) <= MAX_CHAT_TEXT:", "if not 1 <= len(trimmed):",
     "tests/signaling/test_sig_validation.py -k chat_"),
    ("sig-chat-length-off-by-one", "signaling/validation.py",
     "if not 1 <= len(trimmed) <= MAX_CHAT_TEXT:", "if not 1 <= len(trimmed) < MAX_CHAT_TEXT:",
     "tests/signaling/test_sig_validation.py -k chat_"),
    ("sig-chat-untrimmed", "signaling/validation.py",
     "    trimmed = value.strip()\n", "    trimmed = value\n", "tests/signaling/test_sig_validation.py -k chat_"),
    ("sig-chat-counts-bytes", "signaling/validation.py",
     "if not 1 <= len(trimmed) <= MAX_CHAT_TEXT:", 'if not 1 <= len(trimmed.encode()) <= MAX_CHAT_TEXT:',
     "tests/signaling/test_sig_validation.py -k chat_"),
]


def main() -> None:
    only = sys.argv[2:] if len(sys.argv) > 2 else None
    for name, path, old, new, tests in FAULTS:
        if only and name not in only:
            continue
        edits = list(zip(path.split("+"), old.split("|||"), new.split("|||"), strict=True))
        saved = {}
        for rel, before, after in edits:
            file = ROOT / rel
            text = saved.setdefault(file, file.read_text())
            current = file.read_text()
            assert current.count(before) == 1, f"{name}: pattern found {current.count(before)} times in {rel}"
            file.write_text(current.replace(before, after))
        try:
            run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests.split()],
                                 cwd=ROOT, capture_output=True, text=True)
        finally:
            for file, text in saved.items():
                file.write_text(text)
        verdict = "caught" if run.returncode == 1 else ("SURVIVED" if run.returncode == 0 else f"rc={run.returncode}")
        failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
        print(f"{verdict:9} {name:32} {failed[0][7:90] if failed else ''}", flush=True)


if __name__ == "__main__":
    main()
