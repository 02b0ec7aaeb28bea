"""The SFU server: aiortc connections per participant, wired to Socket.IO signaling and the RTP router."""

__version__ = "0.1.0"
