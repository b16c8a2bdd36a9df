"""MYLAPS (AMB) P3 binary decoder protocol: frame decoder and encoder.

Frame (TIMING-FORMATS.md; the AMBp3client implementation guide; the P3 tag list published
with a Rust P3 client validated against a live ProChip capture)::

    8E | version (1) | length (2) | CRC (2) | flags (2) | type (2) | TLV fields... | 8F

* Little endian throughout. ``length`` counts the whole unescaped frame, 8E and 8F included.
* Escaping: inside a frame a byte 8A-8F is sent as ``8D`` followed by the byte + 0x20. The
  encoder escapes 8A-8F; the decoder accepts any ``8D xx`` with xx in AA-AF and refuses any
  other escape. A bare 8A-8C inside a frame is accepted as data (it cannot be confused with a
  frame boundary, and some decoders escape only 8D-8F).
* CRC-16, polynomial 0x1021, register 0xFFFF, over the whole unescaped frame with the two CRC
  bytes set to zero, stored little endian, computed as the decoders do (see ``crc16``).
  Checked against the guide's example status frame ``8e021f00f389...8f`` (bytes ``f3 89``).
* TLV: tag (1), length (1), value. Passing (type 1): 01 passing number u32, 03 transponder
  u32, 04 time u64 (µs since 1970-01-01 UTC), 05 strength u16, 06 hits u16, 08 flags u16,
  0A transponder text id, 10 GPS UTC time u64, 81 decoder id u32. Unknown tags are passed over.

Decisions:

* ``chip`` = transponder number in decimal; ``seq`` = passing number; ``rssi`` = strength;
  ``hits`` = hits; ``seq_scope`` and the fallback ``device`` = decoder id written as its four
  bytes in wire order (``d0 00 0c 00`` -> ``D0000C00``, the way the decoder labels itself).
* Time: field 04. Only when 04 is missing is the GPS time 10 used.
* ``line`` is the 1-based index of the frame (counting every 8E that starts one). Bytes outside
  any frame are refused with the index of the frame they precede (or one past the last).
* Status frames (type 2) and other message types are counted as skipped.
"""

from __future__ import annotations

from binascii import crc_hqx

from ._common import Context, LineError, device_of, unix_us_to_utc
from .model import ParseResult, Passing, Rejection

SOR = 0x8E
EOR = 0x8F
ESC = 0x8D
ESCAPED = frozenset(range(0x8A, 0x90))
TYPE_PASSING = 0x0001
TYPE_STATUS = 0x0002
HEADER = 10  # SOR, version, length, CRC, flags, type

F_PASSING_NUMBER = 0x01
F_TRANSPONDER = 0x03
F_RTC_TIME = 0x04
F_STRENGTH = 0x05
F_HITS = 0x06
F_FLAGS = 0x08
F_TEXT_ID = 0x0A
F_UTC_TIME = 0x10
F_DECODER_ID = 0x81
_WIDTH = {
    F_PASSING_NUMBER: 4,
    F_TRANSPONDER: 4,
    F_RTC_TIME: 8,
    F_STRENGTH: 2,
    F_HITS: 2,
    F_FLAGS: 2,
    F_UTC_TIME: 8,
    F_DECODER_ID: 4,
}


def crc16(frame: bytes) -> int:
    """P3 CRC of an unescaped frame (its CRC bytes, [4:6], are taken as zero).

    The decoders use the table-driven CRC with polynomial 0x1021 and register 0xFFFF in the
    form where each byte is XORed into the register *after* the table step (AMBp3client
    ``crc16.py``: ``crc = tbl[crc >> 8] ^ (crc << 8) ^ byte``). That is not CRC-16/CCITT-FALSE;
    it equals the standard CRC (``binascii.crc_hqx``, in C) started at 0x1D0F over all but the
    last two bytes, XORed with those two bytes. The test suite checks both forms agree.
    """
    zeroed = frame[:4] + b"\x00\x00" + frame[6:]
    return crc_hqx(zeroed[:-2], 0x1D0F) ^ int.from_bytes(zeroed[-2:], "big")


def escape(body: bytes) -> bytes:
    out = bytearray()
    for byte in body:
        if byte in ESCAPED:
            out += bytes((ESC, byte + 0x20))
        else:
            out.append(byte)
    return bytes(out)


def unescape(body: bytes) -> bytes:
    if ESC not in body:
        return body
    out = bytearray()
    it = iter(body)
    for byte in it:
        if byte == ESC:
            nxt = next(it, None)
            if nxt is None:
                raise LineError("frame ends inside an escape (8D)")
            if nxt - 0x20 not in ESCAPED:
                raise LineError(f"invalid escape 8D {nxt:02X} (expected 8D AA..AF)")
            out.append(nxt - 0x20)
        else:
            out.append(byte)
    return bytes(out)


def encode_frame(
    message_type: int, fields: list[tuple[int, bytes]], *, version: int = 2, flags: int = 0
) -> bytes:
    """A complete escaped frame. For tests and the timing simulator."""
    tlv = b"".join(bytes((tag, len(value))) + value for tag, value in fields)
    length = HEADER + len(tlv) + 1
    frame = bytearray(
        bytes((SOR, version))
        + length.to_bytes(2, "little")
        + b"\x00\x00"
        + flags.to_bytes(2, "little")
        + message_type.to_bytes(2, "little")
        + tlv
        + bytes((EOR,))
    )
    frame[4:6] = crc16(bytes(frame)).to_bytes(2, "little")
    return bytes((SOR,)) + escape(bytes(frame[1:-1])) + bytes((EOR,))


def encode_passing(
    passing_number: int,
    transponder: int,
    time_us: int,
    *,
    strength: int | None = None,
    hits: int | None = None,
    flags: int | None = None,
    text_id: bytes | None = None,
    decoder_id: int | None = None,
) -> bytes:
    """A passing frame (type 1); ``time_us`` is microseconds since 1970-01-01 UTC."""
    fields = [
        (F_PASSING_NUMBER, passing_number.to_bytes(4, "little")),
        (F_TRANSPONDER, transponder.to_bytes(4, "little")),
        (F_RTC_TIME, time_us.to_bytes(8, "little")),
    ]
    if strength is not None:
        fields.append((F_STRENGTH, strength.to_bytes(2, "little")))
    if hits is not None:
        fields.append((F_HITS, hits.to_bytes(2, "little")))
    if flags is not None:
        fields.append((F_FLAGS, flags.to_bytes(2, "little")))
    if text_id is not None:
        fields.append((F_TEXT_ID, text_id))
    if decoder_id is not None:
        fields.append((F_DECODER_ID, decoder_id.to_bytes(4, "little")))
    return encode_frame(TYPE_PASSING, fields)


def _fields(frame: bytes, widths: dict[int, int]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos, end = HEADER, len(frame) - 1
    while pos < end:
        if pos + 2 > end:
            raise LineError(f"field header cut off at byte {pos}")
        tag, size = frame[pos], frame[pos + 1]
        value = frame[pos + 2 : pos + 2 + size]
        if pos + 2 + size > end:
            raise LineError(f"field {tag:02X} runs past the end of the frame")
        if tag in out:
            raise LineError(f"field {tag:02X} appears twice")
        width = widths.get(tag)
        if width is not None and size != width:
            raise LineError(f"field {tag:02X} has {size} bytes, not {width}")
        out[tag] = value
        pos += 2 + size
    return out


def decode_frame(escaped: bytes, index: int, ctx: Context) -> Passing | None:
    """One frame as received (8E ... 8F). ``None`` for a frame that is not a passing."""
    frame = bytes((SOR,)) + unescape(escaped[1:-1]) + bytes((EOR,))
    if len(frame) < HEADER + 1:
        raise LineError(f"frame of {len(frame)} bytes is shorter than a header")
    version = frame[1]
    if version not in (1, 2):
        raise LineError(f"version {version} is not a P3 version (1 or 2)")
    length = int.from_bytes(frame[2:4], "little")
    if length != len(frame):
        raise LineError(f"length field says {length} bytes, the frame has {len(frame)}")
    written, computed = int.from_bytes(frame[4:6], "little"), crc16(frame)
    if written != computed:
        raise LineError(f"CRC {written:04X} does not match the frame (computed {computed:04X})")
    message_type = int.from_bytes(frame[8:10], "little")
    if message_type != TYPE_PASSING:
        _fields(frame, {})  # status and other messages: structure only, their tags differ
        return None
    fields = _fields(frame, _WIDTH)
    for tag, name in (
        (F_PASSING_NUMBER, "passing number"),
        (F_TRANSPONDER, "transponder"),
    ):
        if tag not in fields:
            raise LineError(f"passing without {name} (field {tag:02X})")
    time_field = fields.get(F_RTC_TIME, fields.get(F_UTC_TIME))
    if time_field is None:
        raise LineError("passing without a time (field 04 or 10)")
    decoder = fields.get(F_DECODER_ID)
    decoder_id = decoder.hex().upper() if decoder is not None else None
    strength = fields.get(F_STRENGTH)
    hits = fields.get(F_HITS)
    return Passing(
        chip=str(int.from_bytes(fields[F_TRANSPONDER], "little")),
        at=unix_us_to_utc(int.from_bytes(time_field, "little")),
        kind="read",
        device=device_of(ctx, decoder_id),
        line=index,
        raw=frame.hex(),
        seq=int.from_bytes(fields[F_PASSING_NUMBER], "little"),
        seq_scope=decoder_id,
        rssi=None if strength is None else int.from_bytes(strength, "little"),
        hits=None if hits is None else int.from_bytes(hits, "little"),
    )


def parse(data: bytes, ctx: Context) -> ParseResult:
    reads: list[Passing] = []
    rejected: list[Rejection] = []
    skipped = 0
    index = 0
    pos, size = 0, len(data)
    while pos < size:
        start = data.find(SOR, pos)
        if start != pos:
            junk = data[pos:] if start < 0 else data[pos:start]
            rejected.append(
                Rejection(index + 1, junk.hex(), f"{len(junk)} bytes outside any frame")
            )
            if start < 0:
                break
        index += 1
        end = data.find(EOR, start + 1)
        restart = data.find(SOR, start + 1)
        if end < 0 or 0 <= restart < end:
            cut = size if restart < 0 else restart
            reason = "no 8F end: frame cut off" if restart < 0 else "new 8E before the 8F end"
            rejected.append(Rejection(index, data[start:cut].hex(), reason))
            pos = cut
            continue
        escaped = data[start : end + 1]
        pos = end + 1
        try:
            passing = decode_frame(escaped, index, ctx)
        except LineError as error:
            rejected.append(Rejection(index, escaped.hex(), error.reason))
            continue
        if passing is None:
            skipped += 1
        else:
            reads.append(passing)
    return ParseResult("mylaps-p3", reads, rejected, skipped)
