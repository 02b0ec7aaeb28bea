"""Socket.IO signaling: the original video-call protocol, auth, presence, chat and the Redis adapter."""
