"""Size limits shared by both sides of the wire.

PROTOCOL.md fixes the frame, packet and Opus sizes; it leaves the id and
member counts open, so they are chosen here so that a full answer still fits
one frame (500 members of 64-character uids is about 43 KB of XML).
"""

MAX_FRAME = 65536
MAX_DATAGRAM = 1400
MAX_OPUS_FRAME = 1275
MAX_SEQ_LEN = 64
MAX_SYNC_IDS = 500
MAX_MEMBERS = 500
MAX_TEXT_ATTR = 1024
