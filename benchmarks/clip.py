"""The benchmark's media: a synthetic VP8 + Opus clip, encoded once with PyAV and cached.

Publishers send these packets as they are (no per-packet encoding), so the generator measures the
server rather than its own encoder. Every video frame carries its clip index as a row of black and
white blocks and is fully reproducible from that index, so a subscriber can decode a sample and
prove it received the right frames (see `verify_frame`).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

CACHE_VERSION = 1
FPS = 30
CLIP_SECONDS = 10
KEYFRAME_INTERVAL = 2 * FPS  # a keyframe every 2 s
AUDIO_RATE = 48000
AUDIO_FRAME = 960  # 20 ms at 48 kHz
COUNTER_BITS = 12  # clip index drawn as 12 blocks: up to 4096 frames per clip
IDENTITY_STRIDE = 512  # a clip of identity k draws k * 512 + index: frames tell whose they are (k < 8)


@dataclass(frozen=True)
class Preset:
    name: str
    width: int
    height: int
    video_bps: int
    audio_bps: int = 32_000


PRESETS: dict[str, Preset] = {
    "300k": Preset("300k", 320, 240, 300_000),  # thumbnails
    "1m": Preset("1m", 640, 480, 1_000_000),  # the default camera
    "2.5m": Preset("2.5m", 1280, 720, 2_500_000),
    # simulcast layers (a 1280x720 camera at 1/4, 1/2 and full size, as the web client publishes it)
    "sim-q": Preset("sim-q", 320, 180, 150_000),
    "sim-h": Preset("sim-h", 640, 360, 500_000),
    "sim-f": Preset("sim-f", 1280, 720, 1_500_000),
}
DEFAULT_PRESET = "1m"
SIMULCAST_RIDS = ("q", "h", "f")  # lowest first, as docs/protocol.md requires
SIMULCAST_PRESETS = ("sim-q", "sim-h", "sim-f")


@dataclass
class Clip:
    """Encoded packets of one preset: video as (bytes, is_keyframe) per frame, audio per 20 ms."""

    preset: Preset
    video: list[tuple[bytes, bool]]
    audio: list[bytes]

    @property
    def video_bps(self) -> float:
        """The encoded bitrate actually reached (the encoder's CBR target is an aim, not a promise)."""
        return sum(len(data) for data, _ in self.video) * 8 * FPS / len(self.video)


def _texture(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(1234)
    small = rng.integers(16, 236, size=(height // 8 + 1, (width + 8 * FPS * CLIP_SECONDS) // 8 + 1), dtype=np.uint8)
    return np.kron(small, np.ones((8, 8), dtype=np.uint8))  # 8x8 cells: structure the encoder can track


_TEXTURES: dict[tuple[int, int], np.ndarray] = {}


def counter_geometry(width: int) -> tuple[int, int]:
    """(block size, top margin) of the drawn frame counter."""
    block = max(8, (width // (COUNTER_BITS + 4)) // 8 * 8)
    return block, block // 2


def source_luma(index: int, width: int, height: int) -> np.ndarray:
    """The Y plane of clip frame `index`: a scrolling texture, per-frame noise and the counter."""
    key = (width, height)
    if key not in _TEXTURES:
        _TEXTURES[key] = _texture(width, height)
    shift = (index * 4) % (_TEXTURES[key].shape[1] - width)
    y = _TEXTURES[key][:height, shift : shift + width].astype(np.int16)
    noise = np.random.default_rng(index).integers(-10, 11, size=(height, width), dtype=np.int16)
    y = np.clip(y + noise, 0, 255).astype(np.uint8)
    block, top = counter_geometry(width)
    band = top * 2 + block
    y[:band, : block * (COUNTER_BITS + 2)] = 128
    for bit in range(COUNTER_BITS):
        x0 = block * (bit + 1)
        y[top : top + block, x0 : x0 + block] = 235 if (index >> bit) & 1 else 16
    return y


def read_counter(luma: np.ndarray) -> int:
    """The frame index drawn by `source_luma`, read back from a decoded Y plane."""
    width = luma.shape[1]
    block, top = counter_geometry(width)
    value = 0
    inner = block // 4
    for bit in range(COUNTER_BITS):
        x0 = block * (bit + 1)
        cell = luma[top + inner : top + block - inner, x0 + inner : x0 + block - inner]
        if float(cell.mean()) > 128:
            value |= 1 << bit
    return value


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    diff = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(diff * diff))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 * 255.0 / mse)


def verify_frame(luma: np.ndarray, width: int, height: int) -> tuple[int, float]:
    """(clip index, PSNR in dB against the source frame) for one decoded frame."""
    index = read_counter(luma)
    if luma.shape != (height, width):
        return index, 0.0
    return index, psnr(luma, source_luma(index, width, height))


def identity_of(counter: int) -> int:
    """Which publisher's clip a decoded frame's counter comes from (see `load_clip(identity=...)`)."""
    return counter // IDENTITY_STRIDE


def _encode_video(preset: Preset, identity: int = 0) -> list[tuple[bytes, bool]]:
    import av

    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height = preset.width, preset.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.framerate = Fraction(FPS, 1)
    ctx.bit_rate = preset.video_bps
    ctx.gop_size = KEYFRAME_INTERVAL
    ctx.options = {
        "minrate": str(preset.video_bps), "maxrate": str(preset.video_bps), "bufsize": str(preset.video_bps),
        "keyint_min": str(KEYFRAME_INTERVAL), "lag-in-frames": "0", "auto-alt-ref": "0",
        "deadline": "good", "cpu-used": "4", "error-resilient": "1",
    }
    chroma = np.full((preset.height // 2, preset.width // 2), 128, dtype=np.uint8)
    out: list[tuple[bytes, bool]] = []
    for index in range(FPS * CLIP_SECONDS):
        y = source_luma(identity * IDENTITY_STRIDE + index, preset.width, preset.height)
        frame = av.VideoFrame(preset.width, preset.height, "yuv420p")
        for plane, data in zip(frame.planes, (y, chroma, chroma), strict=True):
            rows = data.shape[0]
            buf = np.frombuffer(plane, dtype=np.uint8).reshape(rows, plane.line_size)
            buf[:, : data.shape[1]] = data
        frame.pts = index
        frame.time_base = ctx.time_base
        if index % KEYFRAME_INTERVAL == 0:
            frame.pict_type = av.video.frame.PictureType.I
        out.extend((bytes(p), bool(p.is_keyframe)) for p in ctx.encode(frame))
    out.extend((bytes(p), bool(p.is_keyframe)) for p in ctx.encode(None))
    if len(out) != FPS * CLIP_SECONDS or not out[0][1]:
        raise RuntimeError(f"VP8 encoder gave {len(out)} packets for {FPS * CLIP_SECONDS} frames")
    return out


def _encode_audio(preset: Preset) -> list[bytes]:
    import av

    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate = AUDIO_RATE
    ctx.layout = "stereo"
    ctx.format = "s16"
    ctx.bit_rate = preset.audio_bps
    ctx.time_base = Fraction(1, AUDIO_RATE)
    rng = np.random.default_rng(7)
    t = np.arange(AUDIO_RATE * CLIP_SECONDS) / AUDIO_RATE
    tone = 0.2 * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    samples = ((tone + 0.02 * rng.standard_normal(t.shape)) * 32767).astype(np.int16)
    out: list[bytes] = []
    for start in range(0, len(samples) - AUDIO_FRAME + 1, AUDIO_FRAME):
        chunk = np.repeat(samples[start : start + AUDIO_FRAME], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = Fraction(1, AUDIO_RATE)
        out.extend(bytes(p) for p in ctx.encode(frame))
    out.extend(bytes(p) for p in ctx.encode(None))
    return out


def cache_dir() -> Path:
    return Path(os.environ.get("SFU_BENCH_CACHE", ".bench-cache"))


def load_clip(preset_name: str = DEFAULT_PRESET, directory: Path | None = None, identity: int = 0) -> Clip:
    """The clip of a preset, from the cache, encoding it on first use (a few seconds).

    `identity` (0-7) gives a publisher its own pictures, so a subscriber can tell by content whose
    frames it decodes (a receive slot that changes hands must show the right person)."""
    if not 0 <= identity < (1 << COUNTER_BITS) // IDENTITY_STRIDE:
        raise ValueError("identity must be 0-7")
    preset = PRESETS[preset_name]
    directory = directory or cache_dir()
    suffix = f"-id{identity}" if identity else ""
    path = directory / f"clip-{preset.name}-{preset.width}x{preset.height}{suffix}-v{CACHE_VERSION}.pkl"
    if path.exists():
        with path.open("rb") as f:
            video, audio = pickle.load(f)
        return Clip(preset, video, audio)
    video, audio = _encode_video(preset, identity), _encode_audio(preset)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as f:
        pickle.dump((video, audio), f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)  # atomic: concurrent readers see the old state or the whole file
    return Clip(preset, video, audio)


def load_simulcast(directory: Path | None = None) -> list[Clip]:
    """The three simulcast layers, lowest first (each encoded once and cached like any preset).

    Every layer draws the same frame counter at its own size, keyframes at the same indices, so a
    subscriber's decode check works on whichever layer it was sent."""
    return [load_clip(name, directory) for name in SIMULCAST_PRESETS]
