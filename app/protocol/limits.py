"""Numbers shared by both sides of the wire: the default port, size limits, frame durations.

PROTOCOL.md fixes the port, the frame, packet and Opus sizes and the allowed
Opus frame durations; it leaves the id and member counts open, so they are
chosen here so that a full answer still fits one frame (500 members of
64-character uids is about 43 KB of XML).
"""

DEFAULT_PORT = 9400
"""TCP signaling and UDP media port when none is given (PROTOCOL.md section 1)."""
MAX_FRAME = 65536
MAX_DATAGRAM = 1400
MAX_OPUS_FRAME = 1275
"""Bytes of one Opus packet at most (RFC 6716), the audioframe field's limit."""
ALLOWED_FRAME_MS: tuple[int, ...] = (10, 20, 40, 60)
"""Opus frame durations a sender may use (PROTOCOL.md section 5)."""
DEFAULT_FRAME_MS = 20
MAX_SEQ_LEN = 64
MAX_SYNC_IDS = 500
MAX_MEMBERS = 500
MAX_TEXT_ATTR = 1024
MAX_CHATS = 100
"""Active chat interphones one user may be a party of (a join that would start one more
for either party is answered 413): each is in the user's sync answer, which must fit one
frame, and each costs the server memory until its members leave."""
