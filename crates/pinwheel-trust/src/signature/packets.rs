//! Strict OpenPGP packet framing (RFC 9580 §4.2) for a detached signature
//! file: split the dearmored bytes into packets, refuse anything that is not
//! a Signature packet (tag 2) before rPGP parses it, refuse partial and
//! indeterminate lengths and truncated packets, then let rPGP parse each
//! packet on its own so that one packet can never swallow the next.

use pgp::packet::{Packet, PacketParser, Signature};

/// Why the packet sequence is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("byte {0} is not a packet header")]
    NotAHeader(usize),
    #[error("packet at byte {0} is truncated")]
    Truncated(usize),
    #[error("packet at byte {0} uses a partial or indeterminate length")]
    UnsupportedLength(usize),
    #[error("packet at byte {offset} has tag {tag} ({name}), only signature packets may appear")]
    Unexpected {
        offset: usize,
        tag: u8,
        name: &'static str,
    },
    #[error("signature packet at byte {offset} does not parse: {message}")]
    Malformed { offset: usize, message: String },
}

/// One raw packet: its byte offset and its bytes (header included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket<'a> {
    pub offset: usize,
    pub tag: u8,
    pub bytes: &'a [u8],
}

/// Splits `data` into packets without interpreting their bodies.
pub fn split(data: &[u8]) -> Result<Vec<RawPacket<'_>>, PacketError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let start = pos;
        let first = data[pos];
        if first & 0x80 == 0 {
            return Err(PacketError::NotAHeader(start));
        }
        pos += 1;
        let byte = |at: usize| data.get(at).copied().ok_or(PacketError::Truncated(start));
        let (tag, len) = if first & 0x40 != 0 {
            // OpenPGP (new) format.
            let tag = first & 0x3f;
            let o1 = byte(pos)?;
            let len = match o1 {
                0..=191 => {
                    pos += 1;
                    usize::from(o1)
                }
                192..=223 => {
                    let o2 = byte(pos + 1)?;
                    pos += 2;
                    ((usize::from(o1) - 192) << 8) + usize::from(o2) + 192
                }
                255 => {
                    let b: Vec<u8> = (1..=4).map(|i| byte(pos + i)).collect::<Result<_, _>>()?;
                    pos += 5;
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
                }
                _ => return Err(PacketError::UnsupportedLength(start)),
            };
            (tag, len)
        } else {
            // Legacy format.
            let tag = (first >> 2) & 0x0f;
            let len = match first & 0x03 {
                0 => {
                    let l = usize::from(byte(pos)?);
                    pos += 1;
                    l
                }
                1 => {
                    let l = usize::from(byte(pos)?) << 8 | usize::from(byte(pos + 1)?);
                    pos += 2;
                    l
                }
                2 => {
                    let b: Vec<u8> = (0..4).map(|i| byte(pos + i)).collect::<Result<_, _>>()?;
                    pos += 4;
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
                }
                _ => return Err(PacketError::UnsupportedLength(start)),
            };
            (tag, len)
        };
        let end = pos
            .checked_add(len)
            .filter(|&e| e <= data.len())
            .ok_or(PacketError::Truncated(start))?;
        out.push(RawPacket {
            offset: start,
            tag,
            bytes: &data[start..end],
        });
        pos = end;
    }
    Ok(out)
}

/// A human name for a packet tag, for error messages.
pub fn tag_name(tag: u8) -> &'static str {
    match tag {
        1 => "public-key encrypted session key",
        2 => "signature",
        3 => "symmetric-key encrypted session key",
        4 => "one-pass signature",
        5 => "secret key",
        6 => "public key",
        7 => "secret subkey",
        8 => "compressed data",
        9 => "symmetrically encrypted data",
        10 => "marker",
        11 => "literal data",
        12 => "trust",
        13 => "user id",
        14 => "public subkey",
        17 => "user attribute",
        18 => "encrypted and integrity protected data",
        19 => "modification detection code",
        21 => "padding",
        _ => "unknown",
    }
}

/// Parses one raw signature packet with rPGP. The packet must be exactly
/// one Signature packet; anything rPGP cannot represent is an error.
pub fn parse_signature(raw: &RawPacket<'_>) -> Result<Signature, PacketError> {
    if raw.tag != 2 {
        return Err(PacketError::Unexpected {
            offset: raw.offset,
            tag: raw.tag,
            name: tag_name(raw.tag),
        });
    }
    let malformed = |message: String| PacketError::Malformed {
        offset: raw.offset,
        message,
    };
    let mut parser = PacketParser::new(raw.bytes);
    let packet = match parser.next() {
        Some(Ok(packet)) => packet,
        Some(Err(err)) => return Err(malformed(one_line(&err.to_string()))),
        None => return Err(malformed("empty".to_owned())),
    };
    if parser.next().is_some() {
        return Err(malformed("more than one packet".to_owned()));
    }
    match packet {
        Packet::Signature(sig) => Ok(sig),
        other => Err(malformed(format!("parsed as {:?}", other_tag(&other)))),
    }
}

fn other_tag(packet: &Packet) -> &'static str {
    match packet {
        Packet::Signature(_) => "signature",
        _ => "another packet type",
    }
}

fn one_line(msg: &str) -> String {
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_new_and_legacy_formats() {
        // new format, tag 2, length 3; legacy format, tag 2 (0x88), 1-byte length 2
        let data = [0xC2, 3, 1, 2, 3, 0x88, 2, 9, 9];
        let packets = split(&data).unwrap();
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0].bytes, &data[..5]);
        assert_eq!((packets[1].offset, packets[1].tag), (5, 2));
        // two-octet new-format length: 192 bytes
        let mut long = vec![0xC2, 192, 0];
        long.extend(std::iter::repeat_n(0u8, 192));
        assert_eq!(split(&long).unwrap()[0].bytes.len(), 195);
    }

    #[test]
    fn adversarial_framing() {
        assert_eq!(split(&[0x42]), Err(PacketError::NotAHeader(0)));
        assert_eq!(split(&[0xC2, 5, 1]), Err(PacketError::Truncated(0)));
        assert_eq!(split(&[0xC2]), Err(PacketError::Truncated(0)));
        assert_eq!(split(&[0xC2, 1, 0, 0xC2]), Err(PacketError::Truncated(3)));
        assert_eq!(
            split(&[0xC2, 224, 0]),
            Err(PacketError::UnsupportedLength(0))
        );
        assert_eq!(split(&[0x8B, 0]), Err(PacketError::UnsupportedLength(0)));
    }

    #[test]
    fn adversarial_non_signature_packet() {
        let data = [0xCB, 1, 0]; // literal data
        let raw = &split(&data).unwrap()[0];
        assert!(matches!(
            parse_signature(raw),
            Err(PacketError::Unexpected { tag: 11, .. })
        ));
    }

    #[test]
    fn adversarial_garbage_signature_body() {
        let data = [0xC2, 3, 4, 0, 0];
        let raw = &split(&data).unwrap()[0];
        assert!(matches!(
            parse_signature(raw),
            Err(PacketError::Malformed { .. })
        ));
    }
}
