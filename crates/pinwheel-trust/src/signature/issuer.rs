//! Which pinned key a signature claims to be from (RFC 9580 §5.2.3.12 Issuer
//! Key ID, §5.2.3.35 Issuer Fingerprint). The subpackets are only a claim —
//! rPGP's cryptographic check decides — but a claim that is missing,
//! contradicts itself or points at an unpinned key is refused here, so that
//! no signature is ever checked against a key it does not name.

use pgp::packet::Signature;
use pgp::types::KeyDetails;

use super::{fingerprint_hex, Cert, Component, Reason, TrustSet};

/// Finds the pinned certificate and component a signature names as issuer.
pub(super) fn find_issuer<'a>(
    sig: &Signature,
    trust: &'a TrustSet,
) -> Result<(&'a Cert, Component<'a>), Reason> {
    let mut fps: Vec<String> = sig
        .issuer_fingerprint()
        .into_iter()
        .map(fingerprint_hex)
        .collect();
    fps.sort();
    fps.dedup();
    let mut ids: Vec<String> = sig
        .issuer_key_id()
        .into_iter()
        .filter(|id| !id.is_wildcard())
        .map(|id| hex::encode_upper(id.as_ref()))
        .collect();
    ids.sort();
    ids.dedup();
    if fps.is_empty() && ids.is_empty() {
        return Err(Reason::NoIssuer);
    }
    if fps.len() > 1 {
        return Err(Reason::InconsistentIssuer(format!(
            "several issuer fingerprints: {}",
            fps.join(", ")
        )));
    }
    if ids.len() > 1 {
        return Err(Reason::InconsistentIssuer(format!(
            "several issuer key IDs: {}",
            ids.join(", ")
        )));
    }
    let components = |set: &'a [Cert]| {
        set.iter().flat_map(|c| {
            std::iter::once((
                c,
                Component::Primary,
                c.key.primary_key.fingerprint(),
                c.key.primary_key.legacy_key_id(),
            ))
            .chain(c.key.public_subkeys.iter().map(move |s| {
                (
                    c,
                    Component::Subkey(s),
                    s.key.fingerprint(),
                    s.key.legacy_key_id(),
                )
            }))
        })
    };
    if let Some(fp) = fps.first() {
        if let Some(id) = ids.first() {
            if let Some(expected) = key_id_of(fp) {
                if &expected != id {
                    return Err(Reason::InconsistentIssuer(format!(
                        "issuer key ID {id} does not belong to issuer fingerprint {fp}"
                    )));
                }
            }
        }
        if let Some((cert, comp, _, _)) =
            components(&trust.trusted).find(|(_, _, f, _)| &fingerprint_hex(f) == fp)
        {
            return Ok((cert, comp));
        }
        let id = ids.first().cloned().or_else(|| key_id_of(fp));
        if let Some(id) = id {
            if let Some((cert, comp, _, _)) =
                components(&trust.trusted).find(|(_, _, _, k)| hex::encode_upper(k.as_ref()) == id)
            {
                return Err(Reason::KeyIdCollision {
                    key_id: id,
                    pinned: comp.fingerprint(cert),
                    issuer: fp.clone(),
                });
            }
        }
        if let Some((cert, _, _, _)) =
            components(&trust.unpinned).find(|(_, _, f, _)| &fingerprint_hex(f) == fp)
        {
            return Err(Reason::NotPinned(cert.fingerprint()));
        }
        return Err(Reason::UnknownKey(fp.clone()));
    }
    let id = &ids[0];
    let matches: Vec<_> = components(&trust.trusted)
        .filter(|(_, _, _, k)| &hex::encode_upper(k.as_ref()) == id)
        .collect();
    match matches.as_slice() {
        [(cert, comp, _, _)] => Ok((cert, *comp)),
        [] => {
            if let Some((cert, _, _, _)) = components(&trust.unpinned)
                .find(|(_, _, _, k)| &hex::encode_upper(k.as_ref()) == id)
            {
                return Err(Reason::NotPinned(cert.fingerprint()));
            }
            Err(Reason::UnknownKey(format!("key ID {id}")))
        }
        _ => Err(Reason::AmbiguousKeyId(id.clone())),
    }
}

/// The key ID a fingerprint implies: the low 64 bits for v4, the high 64
/// bits for v6.
fn key_id_of(fp_hex: &str) -> Option<String> {
    match fp_hex.len() {
        40 => Some(fp_hex[24..].to_owned()),
        64 => Some(fp_hex[..16].to_owned()),
        _ => None,
    }
}
