"""Client event handlers by domain, like the original server: video, chat, presence, plus connections."""
