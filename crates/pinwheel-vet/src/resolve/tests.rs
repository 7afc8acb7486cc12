//! The decision on plain-text stores: chains, re-uploads, violations,
//! exemptions, imports, implication, policies, warnings.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::store::{parse_audits, parse_config, Sourced};

const A: &str = "packaging/supply-chain/audits.toml";
const C: &str = "packaging/supply-chain/config.toml";
const I: &str = "packaging/supply-chain/imports/org.toml";
const OWN_CRITERIA: &str = "\
[criteria.crypto-reviewed]
description = \"crypto\"
implies = \"safe-to-deploy\"

[criteria.docs-reviewed]
description = \"docs only\"

[criteria.a]
description = \"a\"
implies = \"b\"

[criteria.b]
description = \"b\"
implies = \"safe-to-run\"
";
const ORG: &str = "[imports.org]\npath = \"vendor/org.toml\"\n";

fn h(c: char) -> String {
    c.to_string().repeat(64)
}

fn store(own: &str, config: &str, import: Option<&str>) -> Store {
    let own = Sourced::new(A, parse_audits(A, &format!("{OWN_CRITERIA}{own}")).unwrap());
    let config = Sourced::new(C, parse_config(C, config).unwrap());
    let imports = import
        .map(|text| {
            BTreeMap::from([(
                "org".to_owned(),
                Sourced::new(I, parse_audits(I, text).unwrap()),
            )])
        })
        .unwrap_or_default();
    Store::new(own, config, imports).unwrap_or_else(|e| panic!("{e}"))
}

fn full(name: &str, version: &str, sha: char, criteria: &str) -> String {
    format!(
        "\n[[audits.{name}]]\nwho = \"j\"\ncriteria = \"{criteria}\"\nversion = \"{version}\"\nsha256 = \"{}\"\n",
        h(sha)
    )
}

fn delta(name: &str, from: (&str, char), to: (&str, char), criteria: &str) -> String {
    format!(
        "\n[[audits.{name}]]\nwho = \"k\"\ncriteria = \"{criteria}\"\ndelta = \"{} -> {}\"\nfrom-sha256 = \"{}\"\nsha256 = \"{}\"\n",
        from.0,
        to.0,
        h(from.1),
        h(to.1)
    )
}

fn violation(name: &str, specifiers: &str, criteria: &str) -> String {
    format!("\n[[audits.{name}]]\nwho = \"v\"\ncriteria = \"{criteria}\"\nviolation = \"{specifiers}\"\n")
}

fn exemption(name: &str, version: &str, sha: char, criteria: &str) -> String {
    format!(
        "\n[[exemptions.{name}]]\nversion = \"{version}\"\nsha256 = \"{}\"\ncriteria = \"{criteria}\"\n",
        h(sha)
    )
}

fn node(name: &str, version: &str, sha: char) -> Node {
    Node {
        name: name.parse().unwrap(),
        version: version.parse().unwrap(),
        sha256: h(sha).parse().unwrap(),
    }
}

fn pin(name: &str, version: &str, sha: char, required: &[&str]) -> Pin {
    Pin {
        node: node(name, version, sha),
        required: required.iter().map(|s| s.to_string()).collect(),
        used_by: BTreeSet::from([Consumer::App("app".into())]),
    }
}

fn verdict(store: &Store, pin: Pin) -> Verdict {
    let mut out = decide(store, &[pin]);
    out.pop().unwrap().1
}

fn vetted(v: Verdict) -> Vetted {
    match v {
        Verdict::Vetted(v) => v,
        other => panic!("not vetted: {}", other.describe()),
    }
}

fn missing(v: Verdict) -> Missing {
    match v {
        Verdict::Missing(m) => m,
        other => panic!("not missing: {}", other.describe()),
    }
}

fn violated(v: Verdict) -> Vec<Violated> {
    match v {
        Verdict::Violation(list) => list,
        other => panic!("not a violation: {}", other.describe()),
    }
}

const DEPLOY: &[&str] = &["safe-to-deploy"];

#[test]
fn a_whole_version_audit_covers_exactly_its_sdist() {
    let s = store(&full("idna", "3.7", 'a', "safe-to-deploy"), "", None);
    let v = vetted(verdict(&s, pin("idna", "3.7", 'a', DEPLOY)));
    assert_eq!(v.class(), VettedClass::Audited);
    assert_eq!(v.describe(), "audited by j");
    assert_eq!(v.how[0].chain[0].entry, "audits.idna[1]");
    // PEP 440: "3.7" is "3.7.0".
    vetted(verdict(&s, pin("idna", "3.7.0", 'a', DEPLOY)));
    let m = missing(verdict(&s, pin("idna", "3.8", 'a', DEPLOY)));
    assert_eq!(m.criteria, ["safe-to-deploy"]);
    missing(verdict(&s, pin("six", "3.7", 'a', DEPLOY)));
}

#[test]
fn a_delta_chain_reaches_the_pin() {
    let own = [
        full("idna", "1.0", 'a', "safe-to-deploy"),
        delta("idna", ("1.0", 'a'), ("1.1", 'b'), "safe-to-deploy"),
        delta("idna", ("1.1", 'b'), ("1.2", 'c'), "safe-to-deploy"),
    ]
    .concat();
    let s = store(&own, "", None);
    let v = vetted(verdict(&s, pin("idna", "1.2", 'c', DEPLOY)));
    assert_eq!(v.how[0].chain.len(), 3);
    assert_eq!(
        v.describe(),
        "delta chain from 1.0 (audited by j): 1.0 -> 1.1 by k, 1.1 -> 1.2 by k"
    );
    assert_eq!(v.class(), VettedClass::Audited);
    vetted(verdict(&s, pin("idna", "1.1", 'b', DEPLOY)));
}

#[test]
fn deltas_are_directed() {
    let own = [
        full("idna", "1.2", 'c', "safe-to-deploy"),
        delta("idna", ("1.0", 'a'), ("1.2", 'c'), "safe-to-deploy"),
    ]
    .concat();
    let s = store(&own, "", None);
    missing(verdict(&s, pin("idna", "1.0", 'a', DEPLOY)));
}

#[test]
fn a_chain_breaks_where_a_digest_does_not_match() {
    // The second edge starts from 1.1 with digest 'd', but the audited 1.1
    // is 'b'.
    let own = [
        full("idna", "1.0", 'a', "safe-to-deploy"),
        delta("idna", ("1.0", 'a'), ("1.1", 'b'), "safe-to-deploy"),
        delta("idna", ("1.1", 'd'), ("1.2", 'c'), "safe-to-deploy"),
    ]
    .concat();
    let s = store(&own, "", None);
    let m = missing(verdict(&s, pin("idna", "1.2", 'c', DEPLOY)));
    assert_eq!(m.criteria, ["safe-to-deploy"]);
    assert_eq!(
        m.reachable["safe-to-deploy"],
        [node("idna", "1.0", 'a'), node("idna", "1.1", 'b')],
        "the vetted nodes a delta could start from"
    );
    // The delta ending at 1.2 under the pin's own digest is not another upload.
    assert!(m.other_uploads.is_empty());
    // The other end: an edge to 1.2 'e' does not reach a pin 1.2 'c'.
    let own = [
        full("idna", "1.0", 'a', "safe-to-deploy"),
        delta("idna", ("1.0", 'a'), ("1.2", 'e'), "safe-to-deploy"),
    ]
    .concat();
    let s = store(&own, "", None);
    let m = missing(verdict(&s, pin("idna", "1.2", 'c', DEPLOY)));
    assert_eq!(
        m.other_uploads.len(),
        1,
        "the delta ends at 1.2 under another digest"
    );
}

#[test]
fn every_edge_must_imply_the_criterion() {
    let own = [
        full("idna", "1.0", 'a', "safe-to-deploy"),
        delta("idna", ("1.0", 'a'), ("1.1", 'b'), "safe-to-run"),
    ]
    .concat();
    let s = store(&own, "", None);
    vetted(verdict(&s, pin("idna", "1.1", 'b', &["safe-to-run"])));
    let m = missing(verdict(
        &s,
        pin("idna", "1.1", 'b', &["safe-to-deploy", "safe-to-run"]),
    ));
    assert_eq!(m.criteria, ["safe-to-deploy"], "only the criterion not met");
    assert_eq!(m.reachable["safe-to-deploy"], [node("idna", "1.0", 'a')]);
}

#[test]
fn a_reupload_under_an_audited_version_is_not_covered_and_is_flagged() {
    let s = store(
        &full("idna", "3.20", 'a', "safe-to-deploy"),
        &exemption("idna", "3.20", 'c', "safe-to-deploy"),
        None,
    );
    let m = missing(verdict(&s, pin("idna", "3.20", 'b', DEPLOY)));
    let places: Vec<&str> = m.other_uploads.iter().map(|e| e.entry.as_str()).collect();
    assert_eq!(places, ["audits.idna[1]", "exemptions.idna[1]"]);
    assert!(
        Verdict::Missing(m)
            .describe()
            .contains("another upload of this version"),
        "the caller is told"
    );
    let m = missing(verdict(&s, pin("idna", "3.21", 'b', DEPLOY)));
    assert!(
        m.other_uploads.is_empty(),
        "another version is no re-upload"
    );
    vetted(verdict(&s, pin("idna", "3.20", 'a', DEPLOY)));
}

#[test]
fn a_violation_beats_an_audit() {
    let own = [
        full("six", "1.2", 'a', "safe-to-deploy"),
        full("six", "1.3", 'b', "safe-to-deploy"),
        violation("six", ">=1.0, <1.3", "safe-to-run"),
    ]
    .concat();
    let s = store(&own, "", None);
    let list = violated(verdict(&s, pin("six", "1.2", 'a', DEPLOY)));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].fails, ["safe-to-deploy"]);
    assert_eq!(list[0].evidence.origin, Origin::Ours);
    assert_eq!(list[0].evidence.entry, "audits.six[3]");
    // Every upload of the version: another digest fails too.
    violated(verdict(&s, pin("six", "1.2", 'f', DEPLOY)));
    // Outside the range.
    vetted(verdict(&s, pin("six", "1.3", 'b', DEPLOY)));
}

#[test]
fn violations_fail_related_criteria_in_both_directions_only() {
    let s = store(&violation("six", "<2", "safe-to-deploy"), "", None);
    let list = violated(verdict(&s, pin("six", "1", 'a', &["safe-to-run"])));
    assert_eq!(
        list[0].fails,
        ["safe-to-run"],
        "deploy violated: run fails too"
    );
    let s = store(&violation("six", "<2", "safe-to-run"), "", None);
    let list = violated(verdict(&s, pin("six", "1", 'a', &["crypto-reviewed"])));
    assert_eq!(
        list[0].fails,
        ["crypto-reviewed"],
        "crypto implies deploy implies run"
    );
    // Unrelated: neither implies the other.
    let s = store(
        &[
            full("six", "1", 'a', "safe-to-deploy"),
            violation("six", "<2", "docs-reviewed"),
        ]
        .concat(),
        "",
        None,
    );
    vetted(verdict(&s, pin("six", "1", 'a', DEPLOY)));
    let list = violated(verdict(
        &s,
        pin("six", "1", 'a', &["safe-to-deploy", "docs-reviewed"]),
    ));
    assert_eq!(list[0].fails, ["docs-reviewed"]);
}

#[test]
fn implies_is_transitive_in_the_decision() {
    // a implies b implies safe-to-run.
    let s = store(&full("idna", "1", 'a', "a"), "", None);
    vetted(verdict(&s, pin("idna", "1", 'a', &["safe-to-run", "b"])));
    let m = missing(verdict(&s, pin("idna", "1", 'a', DEPLOY)));
    assert_eq!(m.criteria, ["safe-to-deploy"]);
    let s = store(&full("idna", "1", 'a', "safe-to-run"), "", None);
    missing(verdict(&s, pin("idna", "1", 'a', DEPLOY)));
    let s = store(&full("idna", "1", 'a', "crypto-reviewed"), "", None);
    vetted(verdict(&s, pin("idna", "1", 'a', &["safe-to-run"])));
}

#[test]
fn an_exemption_roots_a_delta_chain() {
    let s = store(
        &delta("idna", ("1.0", 'a'), ("1.1", 'b'), "safe-to-deploy"),
        &exemption("idna", "1.0", 'a', "safe-to-deploy"),
        None,
    );
    let v = vetted(verdict(&s, pin("idna", "1.1", 'b', DEPLOY)));
    assert_eq!(v.class(), VettedClass::PartiallyAudited);
    assert_eq!(
        v.describe(),
        "delta chain from 1.0 (exempted): 1.0 -> 1.1 by k"
    );
    let v = vetted(verdict(&s, pin("idna", "1.0", 'a', DEPLOY)));
    assert_eq!(v.class(), VettedClass::Exempted);
    assert_eq!(v.describe(), "exempted");
    // An exemption matches on the digest too.
    missing(verdict(&s, pin("idna", "1.0", 'c', DEPLOY)));
    // And on its criteria.
    let s = store("", &exemption("idna", "1.0", 'a', "safe-to-run"), None);
    missing(verdict(&s, pin("idna", "1.0", 'a', DEPLOY)));
}

#[test]
fn an_audit_is_preferred_to_an_exemption() {
    let s = store(
        &full("idna", "1.0", 'a', "safe-to-deploy"),
        &exemption("idna", "1.0", 'a', "safe-to-deploy"),
        None,
    );
    let v = vetted(verdict(&s, pin("idna", "1.0", 'a', DEPLOY)));
    assert_eq!(v.class(), VettedClass::Audited);
}

const THEIRS: &str = "[criteria.reviewed]\ndescription = \"their review\"\n";

#[test]
fn an_imported_custom_criterion_satisfies_nothing_until_mapped() {
    let theirs = format!("{THEIRS}{}", full("idna", "1", 'a', "reviewed"));
    let s = store("", ORG, Some(&theirs));
    for need in [&["crypto-reviewed"][..], DEPLOY, &["safe-to-run"]] {
        missing(verdict(&s, pin("idna", "1", 'a', need)));
    }
    let mapped = format!("{ORG}criteria-map = {{ \"org::reviewed\" = \"crypto-reviewed\" }}\n");
    let s = store("", &mapped, Some(&theirs));
    let v = vetted(verdict(
        &s,
        pin("idna", "1", 'a', &["crypto-reviewed", "safe-to-run"]),
    ));
    assert_eq!(v.how[0].chain[0].origin, Origin::Import("org".into()));
    assert_eq!(v.how[0].chain[0].path, I);
    assert_eq!(v.describe(), "audited by j (imported from org)");
    // Mapped to crypto-reviewed, which implies safe-to-deploy.
    vetted(verdict(&s, pin("idna", "1", 'a', DEPLOY)));
    missing(verdict(&s, pin("idna", "1", 'a', &["docs-reviewed"])));
}

#[test]
fn imported_built_ins_count_like_ours() {
    let theirs = [
        full("idna", "1.0", 'a', "safe-to-deploy"),
        delta("idna", ("1.0", 'a'), ("1.1", 'b'), "safe-to-deploy"),
    ]
    .concat();
    let s = store(
        &delta("idna", ("1.1", 'b'), ("1.2", 'c'), "safe-to-deploy"),
        ORG,
        Some(&theirs),
    );
    let v = vetted(verdict(&s, pin("idna", "1.2", 'c', DEPLOY)));
    let origins: Vec<String> = v.how[0]
        .chain
        .iter()
        .map(|e| e.origin.to_string())
        .collect();
    assert_eq!(origins, ["org", "org", "ours"]);
}

#[test]
fn imported_violations_apply() {
    let theirs = violation("six", "==1.2", "safe-to-run");
    let s = store(
        &full("six", "1.2", 'a', "safe-to-deploy"),
        ORG,
        Some(&theirs),
    );
    let list = violated(verdict(&s, pin("six", "1.2", 'a', DEPLOY)));
    assert_eq!(list[0].evidence.origin, Origin::Import("org".into()));
    assert!(Verdict::Violation(list)
        .describe()
        .contains("imported from org"));
    // An unmapped custom criterion of theirs relates to nothing of ours.
    let theirs = format!("{THEIRS}{}", violation("six", "==1.2", "reviewed"));
    let s = store(
        &full("six", "1.2", 'a', "safe-to-deploy"),
        ORG,
        Some(&theirs),
    );
    vetted(verdict(&s, pin("six", "1.2", 'a', DEPLOY)));
    // Mapped, it relates to what the mapping makes it imply: mapped to
    // safe-to-run, it fails a safe-to-run requirement, but not a
    // safe-to-deploy one (neither implies the other).
    let mapped = format!("{ORG}criteria-map = {{ \"org::reviewed\" = \"safe-to-run\" }}\n");
    let s = store(
        &full("six", "1.2", 'a', "safe-to-deploy"),
        &mapped,
        Some(&theirs),
    );
    let list = violated(verdict(&s, pin("six", "1.2", 'a', &["safe-to-run"])));
    assert_eq!(list[0].evidence.criteria, ["org::reviewed"]);
    vetted(verdict(&s, pin("six", "1.2", 'a', DEPLOY)));
    let mapped = format!("{ORG}criteria-map = {{ \"org::reviewed\" = \"safe-to-deploy\" }}\n");
    let s = store(
        &full("six", "1.2", 'a', "safe-to-deploy"),
        &mapped,
        Some(&theirs),
    );
    violated(verdict(&s, pin("six", "1.2", 'a', DEPLOY)));
}

#[test]
fn required_criteria_are_the_union_over_consumers() {
    let config = parse_config(
        C,
        "[policy.web]\ncriteria = \"safe-to-run\"\n\
         [policy.worker.dependency-criteria]\nredis = \"crypto-reviewed\"\n\
         [build-backends]\ncriteria = \"safe-to-run\"\n",
    )
    .unwrap();
    let redis = node("redis", "5.0", 'a');
    let six = node("six", "1.16", 'b');
    let pins = pins(
        &config,
        [
            (six.clone(), Consumer::BuildBackends),
            (redis.clone(), Consumer::App("web".into())),
            (redis.clone(), Consumer::App("worker".into())),
            (six.clone(), Consumer::App("unlisted".into())),
        ],
    );
    assert_eq!(pins.len(), 2);
    assert_eq!(pins[0].node, redis);
    assert_eq!(
        pins[0].required,
        BTreeSet::from(["crypto-reviewed".to_owned(), "safe-to-run".to_owned()])
    );
    assert_eq!(
        pins[0].used_by,
        BTreeSet::from([Consumer::App("web".into()), Consumer::App("worker".into())])
    );
    assert_eq!(
        pins[1].required,
        BTreeSet::from(["safe-to-deploy".to_owned(), "safe-to-run".to_owned()]),
        "an app without a policy needs safe-to-deploy"
    );
    let s = store(&full("redis", "5.0", 'a', "safe-to-run"), "", None);
    let m = missing(verdict(&s, pins[0].clone()));
    assert_eq!(m.criteria, ["crypto-reviewed"]);
    // Another digest of the same version is another pin.
    let two = super::pins(
        &config,
        [
            (redis.clone(), Consumer::BuildBackends),
            (node("redis", "5.0", 'c'), Consumer::BuildBackends),
        ],
    );
    assert_eq!(two.len(), 2);
}

#[test]
fn decide_sorts_and_tallies() {
    let own = [
        full("b", "1", 'a', "safe-to-deploy"),
        violation("c", "<9", "safe-to-run"),
    ]
    .concat();
    let config = [
        exemption("a", "1", 'a', "safe-to-deploy"),
        exemption("e", "1", 'a', "safe-to-deploy"),
    ]
    .concat();
    let s = store(
        &[own, delta("e", ("1", 'a'), ("2", 'b'), "safe-to-deploy")].concat(),
        &config,
        None,
    );
    let pins = [
        pin("e", "2", 'b', DEPLOY),
        pin("d", "1", 'a', DEPLOY),
        pin("c", "1", 'a', DEPLOY),
        pin("b", "1", 'a', DEPLOY),
        pin("a", "1", 'a', DEPLOY),
    ];
    let out = decide(&s, &pins);
    let names: Vec<String> = out.iter().map(|(p, _)| p.node.name.to_string()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    let t = Tally::of(&out);
    assert_eq!(
        t,
        Tally {
            audited: 1,
            partially_audited: 1,
            exempted: 1,
            missing: 1,
            violations: 1
        }
    );
    assert!(!t.ok());
    assert_eq!(
        t.to_string(),
        "vetted 3 (1 audited, 1 partially audited, 1 exempted); 1 missing; 1 violations"
    );
    assert!(Tally::of(&out[..2]).ok());
}

#[test]
fn several_criteria_several_chains() {
    let own = [
        full("idna", "1", 'a', "safe-to-deploy"),
        full("idna", "1", 'a', "docs-reviewed"),
    ]
    .concat();
    let s = store(&own, "", None);
    let v = vetted(verdict(
        &s,
        pin("idna", "1", 'a', &["docs-reviewed", "safe-to-deploy"]),
    ));
    assert_eq!(
        v.describe(),
        "docs-reviewed: audited by j; safe-to-deploy: audited by j"
    );
    let v = vetted(verdict(
        &s,
        pin("idna", "1", 'a', &["safe-to-run", "safe-to-deploy"]),
    ));
    assert_eq!(v.describe(), "audited by j", "one chain for both");
    let v = vetted(verdict(&s, pin("idna", "1", 'a', &[])));
    assert_eq!(v.describe(), "no criteria required");
}

#[test]
fn warnings_for_unused_entries() {
    let own = [
        full("idna", "1", 'a', "safe-to-deploy"),
        full("gone", "1", 'a', "safe-to-deploy"),
    ]
    .concat();
    let config = [
        "[policy.app.dependency-criteria]\nidna = \"safe-to-deploy\"\nnot-pinned = \"safe-to-run\"\n",
        &exemption("idna", "1", 'a', "safe-to-deploy"),
        &exemption("six", "1", 'a', "safe-to-deploy"),
        &exemption("six", "2", 'a', "safe-to-deploy"),
        &exemption("old", "1", 'a', "safe-to-deploy"),
    ]
    .concat();
    let s = store(&own, &config, None);
    let pins = [pin("idna", "1", 'a', DEPLOY), pin("six", "1", 'a', DEPLOY)];
    assert_eq!(
        warnings(&s, &pins),
        [
            format!("{A}: audits.gone: no application or build backend pins gone"),
            format!("{C}: exemptions.idna[1]: not needed: audits cover idna 1; remove the exemption"),
            format!("{C}: exemptions.old: no application or build backend pins old"),
            format!("{C}: exemptions.six[2]: six 2 with this sha256 is not pinned (pinned: 1); remove the exemption"),
            format!("{C}: policy.app: dependency-criteria.not-pinned: app does not pin not-pinned"),
        ]
    );
    // Everything in use: no warnings.
    let s = store(
        &full("idna", "1", 'a', "safe-to-deploy"),
        &exemption("six", "1", 'a', "safe-to-deploy"),
        None,
    );
    assert!(warnings(&s, &pins).is_empty());
}
