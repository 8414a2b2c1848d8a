//! Mozilla's bundled trust anchors as the smallest certificates rustls reads them back from, so
//! that `--ca-file` can add to the bundled roots while the binary carries one copy of them.
//!
//! The binary bundles the roots once, as trust anchors (webpki-roots: subject, public key, name
//! constraints), which is what ureq trusts by default. ureq takes any other set of roots only as
//! certificates, and rustls turns each certificate back into a trust anchor by reading exactly
//! those three fields (`webpki::anchor_from_trusted_cert`): validity, issuer, serial and signature
//! are never checked for a root. So an anchor travels as a certificate that holds its three
//! fields and placeholders for the rest. Carrying the whole certificates instead
//! (webpki-root-certs) would cost about 70 KB more; the tests prove, for every bundled anchor,
//! that rustls reads back exactly the anchor it was built from.
//!
//! This module must not be used for anything but handing roots to rustls: the certificates it
//! builds are not valid X.509 for any other reader.

use ureq::tls::Certificate;

/// The bundled Mozilla roots, as certificates carrying their trust anchors.
pub fn bundled() -> impl Iterator<Item = Certificate<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().map(|anchor| {
        let der = certificate(
            anchor.subject.as_ref(),
            anchor.subject_public_key_info.as_ref(),
            anchor.name_constraints.as_ref().map(AsRef::as_ref),
        );
        Certificate::from_der(&der).to_owned()
    })
}

/// DER tags used below.
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const SEQUENCE: u8 = 0x30;
/// `[0]` and `[3]`, constructed: the version and the extensions of a TBSCertificate.
const VERSION: u8 = 0xa0;
const EXTENSIONS: u8 = 0xa3;
/// The OBJECT IDENTIFIER 2.5.29.30 (id-ce-nameConstraints), tag and length included.
const NAME_CONSTRAINTS_OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x1e];
/// A placeholder for the fields rustls skips in a root (signature algorithm, issuer, validity):
/// an empty SEQUENCE.
const EMPTY: &[u8] = &[SEQUENCE, 0x00];

/// A v3 certificate whose subject, subjectPublicKeyInfo and name constraints are the given
/// contents (each without its outer SEQUENCE tag, as a trust anchor stores them).
fn certificate(subject: &[u8], spki: &[u8], name_constraints: Option<&[u8]>) -> Vec<u8> {
    let version = tlv(VERSION, &[&[INTEGER, 0x01, 0x02]]);
    let serial: &[u8] = &[INTEGER, 0x01, 0x01];
    let subject = tlv(SEQUENCE, &[subject]);
    let spki = tlv(SEQUENCE, &[spki]);
    let extensions = name_constraints.map_or_else(Vec::new, |nc| {
        let value = tlv(OCTET_STRING, &[&tlv(SEQUENCE, &[nc])]);
        let extension = tlv(SEQUENCE, &[NAME_CONSTRAINTS_OID, &value]);
        tlv(EXTENSIONS, &[&tlv(SEQUENCE, &[&extension])])
    });
    // The signature algorithm inside and outside the TBSCertificate must be the same bytes; the
    // issuer is a placeholder too (rustls reads the subject only).
    let tbs = tlv(SEQUENCE, &[&version, serial, EMPTY, EMPTY, EMPTY, &subject, &spki, &extensions]);
    let no_signature: &[u8] = &[BIT_STRING, 0x01, 0x00];
    tlv(SEQUENCE, &[&tbs, EMPTY, no_signature])
}

/// One DER element: the tag, the length in its shortest form, then the parts.
fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 4);
    out.push(tag);
    if let Ok(short @ 0..=0x7f) = u8::try_from(len) {
        out.push(short);
    } else {
        // Long form: 0x80 | the count of length bytes, then the length without leading zeros.
        let bytes = len.to_be_bytes();
        let significant = &bytes[bytes.iter().take_while(|&&b| b == 0).count()..];
        out.push(0x80 | u8::try_from(significant.len()).expect("a usize has at most 8 bytes"));
        out.extend_from_slice(significant);
    }
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::RootCertStore;

    /// What rustls makes of a root certificate: the path ureq takes for `RootCerts::Specific`.
    fn read_back(cert: &Certificate<'_>) -> rustls::pki_types::TrustAnchor<'static> {
        let mut store = RootCertStore::empty();
        store.add(CertificateDer::from(cert.der().to_vec())).expect("rustls accepts the certificate");
        store.roots.pop().expect("one root was added")
    }

    #[test]
    fn every_bundled_anchor_is_read_back_by_rustls_exactly() {
        let anchors = webpki_roots::TLS_SERVER_ROOTS;
        let certs: Vec<_> = bundled().collect();
        assert_eq!(certs.len(), anchors.len());
        assert!(anchors.len() > 100, "the bundle holds Mozilla's roots");
        for (anchor, cert) in anchors.iter().zip(&certs) {
            assert_eq!(&read_back(cert), anchor);
        }
    }

    #[test]
    fn name_constraints_survive_the_round_trip() {
        let constrained: Vec<_> =
            webpki_roots::TLS_SERVER_ROOTS.iter().filter(|a| a.name_constraints.is_some()).collect();
        assert!(!constrained.is_empty(), "the bundle has a name-constrained root to test with");
        for anchor in constrained {
            let der = certificate(
                anchor.subject.as_ref(),
                anchor.subject_public_key_info.as_ref(),
                anchor.name_constraints.as_ref().map(AsRef::as_ref),
            );
            assert_eq!(&read_back(&Certificate::from_der(&der)), anchor);
        }
    }

    #[test]
    fn lengths_take_the_shortest_der_form() {
        assert_eq!(tlv(0x04, &[]), [0x04, 0x00]);
        assert_eq!(tlv(0x04, &[&[7; 0x7f]])[..2], [0x04, 0x7f]);
        assert_eq!(tlv(0x04, &[&[7; 0x80]])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[&[7; 0x100]])[..4], [0x04, 0x82, 0x01, 0x00]);
        assert_eq!(tlv(0x04, &[&[7; 0x100], &[7; 2]]).len(), 4 + 0x102);
    }
}
