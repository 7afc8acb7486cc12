//! Strict OpenPGP ASCII armor (RFC 9580 §6): decode one armored block
//! ([`decode`], key files) or several in a row ([`decode_all`], signature
//! files: `cat a.asc b.asc`), encode one. Stricter than rPGP's reader on
//! purpose: the first block must start the input, each block's CRC-24 (when
//! present) must match, each footer must match its header, and nothing but
//! whitespace may come between blocks or after the last. An armored message
//! or a cleartext-signed message is named as such, so that the caller
//! refuses it instead of treating it as a detached signature.

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
    let mut lines = lines(input)?;
    let block = block(&mut lines)?;
    if block.0 != BlockKind::CleartextSigned {
        if let Some((n, _)) = lines.find(|(_, l)| !l.trim().is_empty()) {
            return Err(ArmorError::TrailingGarbage(n + 1));
        }
    }
    Ok(block)
}

/// Decodes one or more armored blocks that fill `input`, with nothing but
/// whitespace between them — what `cat a.asc b.asc` makes of two detached
/// signatures, which GnuPG reads as one file. Each block is read as
/// strictly as [`decode`] reads its one. A cleartext-signed message ends
/// the reading: after its first line it is not armor.
pub fn decode_all(input: &[u8]) -> Result<Vec<(BlockKind, Vec<u8>)>, ArmorError> {
    let mut lines = lines(input)?;
    let mut blocks = Vec::new();
    loop {
        let block = block(&mut lines)?;
        let cleartext = block.0 == BlockKind::CleartextSigned;
        blocks.push(block);
        if cleartext {
            return Ok(blocks);
        }
        while lines.peek().is_some_and(|(_, l)| l.trim().is_empty()) {
            lines.next();
        }
        match lines.peek() {
            None => return Ok(blocks),
            Some((_, l)) if l.starts_with("-----BEGIN ") => {}
            Some((n, _)) => return Err(ArmorError::TrailingGarbage(n + 1)),
        }
    }
}

type Lines<'a> = std::iter::Peekable<std::iter::Enumerate<std::str::Split<'a, char>>>;

/// The input's lines, numbered from 0; ASCII only.
fn lines(input: &[u8]) -> Result<Lines<'_>, ArmorError> {
    let text = std::str::from_utf8(input).map_err(|_| ArmorError::NotAscii)?;
    if !text.is_ascii() {
        return Err(ArmorError::NotAscii);
    }
    Ok(text.split('\n').enumerate().peekable())
}

/// Reads one block from `lines`, up to and including its footer (for a
/// cleartext-signed message, only its first line).
fn block(lines: &mut Lines<'_>) -> Result<(BlockKind, Vec<u8>), ArmorError> {
    let mut next = || {
        lines
            .next()
            .map(|(n, l)| (n, l.strip_suffix('\r').unwrap_or(l)))
    };
    // Leading blank lines are tolerated; any other text before the header is not.
    let first = loop {
        let (_, line) = next().ok_or(ArmorError::NoHeader)?;
        if !line.trim().is_empty() {
            break line;
        }
    };
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
        let (n, line) = next().ok_or(ArmorError::NoBlankLine)?;
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
    while let Some((n, line)) = next() {
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
    fn concatenated_blocks() {
        let a = encode(BlockKind::Signature, b"first");
        let b = encode(BlockKind::Signature, b"second");
        let expected = vec![
            (BlockKind::Signature, b"first".to_vec()),
            (BlockKind::Signature, b"second".to_vec()),
        ];
        // As `cat a.asc b.asc` makes them, with blank lines between or around, CRLF.
        for text in [
            format!("{a}{b}"),
            format!("\n{a}\n \t\n{b}\n\n"),
            format!("{a}{b}").replace('\n', "\r\n"),
        ] {
            assert_eq!(decode_all(text.as_bytes()).unwrap(), expected, "{text}");
        }
        assert_eq!(
            decode_all(a.as_bytes()).unwrap(),
            vec![(BlockKind::Signature, b"first".to_vec())]
        );
        // Where one block is expected (key files), a second is refused.
        assert!(matches!(
            decode(format!("{a}{b}").as_bytes()),
            Err(ArmorError::TrailingGarbage(_))
        ));
    }

    #[test]
    fn adversarial_text_between_or_after_blocks() {
        let a = encode(BlockKind::Signature, b"first");
        let b = encode(BlockKind::Signature, b"second");
        let lines_of_a = a.lines().count();
        let between = format!("{a}garbage\n{b}");
        assert_eq!(
            decode_all(between.as_bytes()),
            Err(ArmorError::TrailingGarbage(lines_of_a + 1))
        );
        let after = format!("{a}{b}garbage\n");
        assert_eq!(
            decode_all(after.as_bytes()),
            Err(ArmorError::TrailingGarbage(2 * lines_of_a + 1))
        );
        // The second block is held to every rule the first is.
        let crc_line = b.lines().find(|l| l.starts_with('=')).unwrap();
        let bad_crc = format!("{a}{}", b.replace(crc_line, "=AAAA"));
        assert!(matches!(
            decode_all(bad_crc.as_bytes()),
            Err(ArmorError::BadChecksum { .. })
        ));
        let no_footer = format!("{a}{}", b.replace("-----END PGP SIGNATURE-----\n", ""));
        assert_eq!(
            decode_all(no_footer.as_bytes()),
            Err(ArmorError::MissingFooter("PGP SIGNATURE"))
        );
        let cut_header = format!(
            "{a}{}",
            b.replace(
                "-----BEGIN PGP SIGNATURE-----",
                "-----BEGIN PGP SIGNATURE----"
            )
        );
        assert_eq!(decode_all(cut_header.as_bytes()), Err(ArmorError::NoHeader));
        let not_ascii = format!("{a}é\n{b}");
        assert_eq!(decode_all(not_ascii.as_bytes()), Err(ArmorError::NotAscii));
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
