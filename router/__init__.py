"""RTP/RTCP forwarding: rooms, producers, consumers and the pure packet-rewriting pieces they use.

Nothing here imports aiohttp or Socket.IO; the packet path works on bytes handed in by `sfu/`.
"""
