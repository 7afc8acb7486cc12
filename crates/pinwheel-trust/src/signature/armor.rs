//! Strict OpenPGP ASCII armor (RFC 9580 §6): decode exactly one armored
//! block, encode one. Stricter than rPGP's reader on purpose: the block must
//! start the input, its CRC-24 (when present) must match, the footer must
//! match the header, and nothing but whitespace may follow it. An armored
//! message or a cleartext-signed message is named as such, so that the
//! caller refuses it instead of treating it as a detached signature.

use base64::Engine as _;

/// The kinds of armored block we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Signature,
    PublicKey,
    PrivateKey,
    /// `PGP MESSAGE`: an inline-signed (or encrypted) message.
    Message,
    /// `PGP SIGNED MESSAGE`: the cleartext signature framework.
    CleartextSigned,
}

impl BlockKind {
    fn label(self) -> &'static str {
        match self {
            BlockKind::Signature => "PGP SIGNATURE",
            BlockKind::PublicKey => "PGP PUBLIC KEY BLOCK",
            BlockKind::PrivateKey => "PGP PRIVATE KEY BLOCK",
            BlockKind::Message => "PGP MESSAGE",
            BlockKind::CleartextSigned => "PGP SIGNED MESSAGE",
        }
    }

    fn from_label(label: &str) -> Option<BlockKind> {
        [
            BlockKind::Signature,
            BlockKind::PublicKey,
            BlockKind::PrivateKey,
            BlockKind::Message,
            BlockKind::CleartextSigned,
        ]
        .into_iter()
        .find(|k| k.label() == label)
    }
}

/// Why armored text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArmorError {
    #[error("not ASCII text")]
    NotAscii,
    #[error("does not start with an armor header line (-----BEGIN PGP ...-----)")]
    NoHeader,
    #[error("unknown armor block type {0:?}")]
    UnknownBlock(String),
    #[error("malformed armor header line {0}")]
    BadHeaderLine(usize),
    #[error("no blank line after the armor headers")]
    NoBlankLine,
    #[error("missing armor footer (-----END {0}-----)")]
    MissingFooter(&'static str),
    #[error("armor footer {found:?} does not match the header {expected:?}")]
    FooterMismatch {
        expected: &'static str,
        found: String,
    },
    #[error("invalid base64 on line {0}")]
    BadBase64(usize),
    #[error("armor checksum mismatch (CRC-24 says {expected:06x}, data gives {actual:06x})")]
    BadChecksum { expected: u32, actual: u32 },
    #[error("data after the armor footer (line {0})")]
    TrailingGarbage(usize),
    #[error("empty armor body")]
    Empty,
}

/// Decodes one armored block that must fill `input` (surrounding blank
/// lines aside). Line ends may be LF or CRLF.
pub fn decode(input: &[u8]) -> Result<(BlockKind, Vec<u8>), ArmorError> {
    let text = std::str::from_utf8(input).map_err(|_| ArmorError::NotAscii)?;
    if !text.is_ascii() {
        return Err(ArmorError::NotAscii);
    }
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .peekable();
    // Leading blank lines are tolerated; any other text before the header is not.
    while lines.peek().is_some_and(|(_, l)| l.trim().is_empty()) {
        lines.next();
    }
    let (_, first) = lines.next().ok_or(ArmorError::NoHeader)?;
    let label = first
        .trim_end()
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or(ArmorError::NoHeader)?;
    let kind =
        BlockKind::from_label(label).ok_or_else(|| ArmorError::UnknownBlock(label.to_owned()))?;
    if kind == BlockKind::CleartextSigned {
        // The cleartext framework is not armor at all after this line;
        // callers only need to know what it is.
        return Ok((kind, Vec::new()));
    }
    // Armor headers ("Key: value") up to a blank line.
    loop {
        let (n, line) = lines.next().ok_or(ArmorError::NoBlankLine)?;
        if line.trim().is_empty() {
            break;
        }
        let ok = line.split_once(": ").is_some_and(|(key, _)| {
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !ok {
            return Err(ArmorError::BadHeaderLine(n + 1));
        }
    }
    let footer = format!("-----END {}-----", kind.label());
    let mut body = String::new();
    let mut checksum: Option<(usize, &str)> = None;
    let mut found_footer = false;
    for (n, line) in lines.by_ref() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("-----") {
            if line != footer {
                return Err(ArmorError::FooterMismatch {
                    expected: kind.label(),
                    found: line.to_owned(),
                });
            }
            found_footer = true;
            break;
        }
        if checksum.is_some() {
            // Nothing may follow the checksum line but the footer.
            return Err(ArmorError::BadBase64(n + 1));
        }
        if let Some(crc) = line.strip_prefix('=') {
            checksum = Some((n + 1, crc));
            continue;
        }
        if line.len() > 76
            || !line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        {
            return Err(ArmorError::BadBase64(n + 1));
        }
        body.push_str(line);
    }
    if !found_footer {
        return Err(ArmorError::MissingFooter(kind.label()));
    }
    if let Some((n, _)) = lines.find(|(_, l)| !l.trim().is_empty()) {
        return Err(ArmorError::TrailingGarbage(n + 1));
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let data = engine
        .decode(body.as_bytes())
        .map_err(|_| ArmorError::BadBase64(0))?;
    if data.is_empty() {
        return Err(ArmorError::Empty);
    }
    if let Some((n, crc)) = checksum {
        let bytes = engine
            .decode(crc.as_bytes())
            .map_err(|_| ArmorError::BadBase64(n))?;
        if bytes.len() != 3 {
            return Err(ArmorError::BadBase64(n));
        }
        let expected = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        let actual = crc24(&data);
        if expected != actual {
            return Err(ArmorError::BadChecksum { expected, actual });
        }
    }
    Ok((kind, data))
}

/// Armors `data` as one block with a CRC-24 line (older GnuPG wants it),
/// 64 base64 characters a line, LF line ends, no headers.
pub fn encode(kind: BlockKind, data: &[u8]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let b64 = engine.encode(data);
    let mut out = format!("-----BEGIN {}-----\n\n", kind.label());
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    let crc = crc24(data);
    out.push('=');
    out.push_str(&engine.encode([(crc >> 16) as u8, (crc >> 8) as u8, crc as u8]));
    out.push('\n');
    out.push_str(&format!("-----END {}-----\n", kind.label()));
    out
}

/// The armor checksum (RFC 9580 §6.1.1).
pub fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0xB7_04CE;
    for &byte in data {
        crc ^= u32::from(byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= 0x186_4CFB;
            }
        }
    }
    crc & 0xFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        encode(BlockKind::Signature, b"hello signature packets")
    }

    #[test]
    fn round_trip() {
        let text = sample();
        assert_eq!(
            decode(text.as_bytes()).unwrap(),
            (BlockKind::Signature, b"hello signature packets".to_vec())
        );
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(
            decode(crlf.as_bytes()).unwrap().1,
            b"hello signature packets"
        );
        let with_headers = text.replacen("\n\n", "\nVersion: GnuPG v2\nComment: x: y\n\n", 1);
        assert!(decode(with_headers.as_bytes()).is_ok());
    }

    #[test]
    fn crc_known_value() {
        // RFC 4880 test vector: CRC-24 of the empty string is the initial value.
        assert_eq!(crc24(b""), 0xB704CE);
        assert_eq!(crc24(b"123456789"), 0x21CF02);
    }

    #[test]
    fn without_checksum() {
        let text: String = sample()
            .lines()
            .filter(|l| !l.starts_with('='))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(decode(text.as_bytes()).is_ok());
    }

    #[test]
    fn adversarial_bad_checksum() {
        let text = sample();
        let crc_line = text.lines().find(|l| l.starts_with('=')).unwrap();
        let bad = text.replace(crc_line, "=AAAA");
        assert!(matches!(
            decode(bad.as_bytes()),
            Err(ArmorError::BadChecksum { .. })
        ));
    }

    #[test]
    fn adversarial_missing_footer() {
        let text = sample().replace("-----END PGP SIGNATURE-----\n", "");
        assert_eq!(
            decode(text.as_bytes()),
            Err(ArmorError::MissingFooter("PGP SIGNATURE"))
        );
    }

    #[test]
    fn adversarial_footer_mismatch() {
        let text = sample().replace("END PGP SIGNATURE", "END PGP MESSAGE");
        assert!(matches!(
            decode(text.as_bytes()),
            Err(ArmorError::FooterMismatch { .. })
        ));
    }

    #[test]
    fn adversarial_trailing_garbage() {
        let text = format!("{}garbage\n", sample());
        assert!(matches!(
            decode(text.as_bytes()),
            Err(ArmorError::TrailingGarbage(_))
        ));
        let two = format!("{}{}", sample(), sample());
        assert!(matches!(
            decode(two.as_bytes()),
            Err(ArmorError::TrailingGarbage(_))
        ));
        let blank_after = format!("{}\n\n", sample());
        assert!(decode(blank_after.as_bytes()).is_ok());
    }

    #[test]
    fn adversarial_leading_text() {
        let text = format!("hello\n{}", sample());
        assert_eq!(decode(text.as_bytes()), Err(ArmorError::NoHeader));
    }

    #[test]
    fn adversarial_bad_base64() {
        let text = sample().replacen("\n\n", "\n\n!!!!\n", 1);
        assert!(matches!(
            decode(text.as_bytes()),
            Err(ArmorError::BadBase64(_))
        ));
    }

    #[test]
    fn adversarial_cleartext_is_named() {
        let text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhi\n-----BEGIN PGP SIGNATURE-----\n";
        assert_eq!(
            decode(text.as_bytes()).unwrap().0,
            BlockKind::CleartextSigned
        );
    }

    #[test]
    fn adversarial_not_ascii() {
        assert_eq!(decode("é".as_bytes()), Err(ArmorError::NotAscii));
        assert_eq!(decode(&[0xff, 0xfe]), Err(ArmorError::NotAscii));
    }
}
