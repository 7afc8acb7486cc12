//! Project pages of the Simple Repository API, parsed (no I/O): PEP 691 JSON
//! (`application/vnd.pypi.simple.v1+json`, any 1.x api-version) and PEP 503
//! HTML (anchors with `#<hash>=` fragments, HTML-unescaped
//! `data-requires-python`, `data-yanked` per PEP 592,
//! `data-dist-info-metadata`/`data-core-metadata` per PEP 658/714, `<base
//! href>`, `pypi:repository-version`). URLs are resolved against the page
//! URL and stripped of their fragment.
//!
//! A file name must be a plain name (no `/`, `\`, NUL, control characters,
//! no leading `.`): callers store files under it. A page holding anything
//! else, or a malformed sha256, is refused as a whole. Not supported:
//! `<script>`/`<style>` contents are not skipped (PEP 503 pages hold none),
//! project *list* pages (`/simple/`) are not parsed.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use serde::Deserialize;
use url::Url;

use pinwheel_trust::hash::Sha256;

/// The PEP 691 JSON media type.
pub const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";

/// Which serialization a page came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

/// A parsed project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPage {
    pub format: Format,
    /// The project name the page states (JSON only).
    pub name: Option<String>,
    pub files: Vec<IndexFile>,
}

/// PEP 658 metadata availability.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CoreMetadata {
    #[default]
    Absent,
    Present,
    /// Present, with the sidecar's sha256.
    Hashed(Sha256),
}

/// One file a project page links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub filename: String,
    /// Absolute, without fragment.
    pub url: Url,
    /// Every hash the page gives, lowercase name → lowercase hex.
    pub hashes: BTreeMap<String, String>,
    pub sha256: Option<Sha256>,
    pub requires_python: Option<String>,
    /// `Some(reason)` when yanked; the reason may be empty.
    pub yanked: Option<String>,
    pub core_metadata: CoreMetadata,
    /// Size in bytes (PEP 700, JSON api-version 1.1+).
    pub size: Option<u64>,
}

/// Parses a page by its `Content-Type`: JSON for the PEP 691 types and
/// `application/json`, HTML otherwise.
pub fn parse(
    content_type: Option<&str>,
    body: &[u8],
    page_url: &Url,
) -> anyhow::Result<ProjectPage> {
    let ct = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if ct.ends_with("+json") || ct == "application/json" {
        parse_json(body, page_url)
    } else {
        let text = std::str::from_utf8(body)
            .with_context(|| format!("{page_url}: HTML page is not UTF-8"))?;
        parse_html(text, page_url)
    }
}

#[derive(Deserialize)]
struct JsonPage {
    meta: JsonMeta,
    name: Option<String>,
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonMeta {
    #[serde(rename = "api-version")]
    api_version: String,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(rename = "core-metadata")]
    core_metadata: Option<JsonMetadata>,
    #[serde(rename = "dist-info-metadata")]
    dist_info_metadata: Option<JsonMetadata>,
    yanked: Option<JsonYanked>,
    size: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonMetadata {
    Flag(bool),
    Hashes(BTreeMap<String, String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonYanked {
    Flag(bool),
    Reason(String),
}

/// Parses a PEP 691 JSON project page.
pub fn parse_json(body: &[u8], page_url: &Url) -> anyhow::Result<ProjectPage> {
    let page: JsonPage = serde_json::from_slice(body)
        .map_err(|err| anyhow::anyhow!("{page_url}: malformed PEP 691 JSON page: {err}"))?;
    check_api_version(&page.meta.api_version, page_url)?;
    let mut files = Vec::with_capacity(page.files.len());
    for f in page.files {
        let filename = safe_filename(&f.filename, page_url)?;
        let mut url = page_url
            .join(&f.url)
            .with_context(|| format!("{page_url}: bad url {:?} for {filename}", f.url))?;
        url.set_fragment(None);
        let hashes: BTreeMap<String, String> = f
            .hashes
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_ascii_lowercase()))
            .collect();
        let sha256 = sha256_of(&hashes, &filename, page_url)?;
        // PEP 714: `core-metadata` wins over the older `dist-info-metadata`.
        let core_metadata = match f.core_metadata.or(f.dist_info_metadata) {
            None | Some(JsonMetadata::Flag(false)) => CoreMetadata::Absent,
            Some(JsonMetadata::Flag(true)) => CoreMetadata::Present,
            Some(JsonMetadata::Hashes(h)) => {
                let h: BTreeMap<String, String> = h
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_ascii_lowercase()))
                    .collect();
                match sha256_of(&h, &filename, page_url)? {
                    Some(d) => CoreMetadata::Hashed(d),
                    None => CoreMetadata::Present,
                }
            }
        };
        let yanked = match f.yanked {
            None | Some(JsonYanked::Flag(false)) => None,
            Some(JsonYanked::Flag(true)) => Some(String::new()),
            Some(JsonYanked::Reason(r)) => Some(r),
        };
        files.push(IndexFile {
            filename,
            url,
            hashes,
            sha256,
            requires_python: f.requires_python,
            yanked,
            core_metadata,
            size: f.size,
        });
    }
    Ok(ProjectPage {
        format: Format::Json,
        name: page.name,
        files,
    })
}

fn check_api_version(version: &str, page_url: &Url) -> anyhow::Result<()> {
    let major = version.split('.').next().unwrap_or_default();
    if major != "1" {
        bail!("{page_url}: unsupported Simple API version {version:?} (pinwheel reads 1.x)");
    }
    Ok(())
}

fn sha256_of(
    hashes: &BTreeMap<String, String>,
    filename: &str,
    page_url: &Url,
) -> anyhow::Result<Option<Sha256>> {
    hashes
        .get("sha256")
        .map(|hex| {
            hex.parse::<Sha256>()
                .map_err(|err| anyhow::anyhow!("{page_url}: {filename}: {err}"))
        })
        .transpose()
}

/// `name` when it is safe to store a file under it in a directory.
fn safe_filename(name: &str, page_url: &Url) -> anyhow::Result<String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
        && name.len() <= 255;
    if !ok {
        bail!("{page_url}: refusing file name {name:?} (not a plain file name)");
    }
    Ok(name.to_owned())
}

/// Parses a PEP 503 HTML project page.
pub fn parse_html(text: &str, page_url: &Url) -> anyhow::Result<ProjectPage> {
    let mut base = page_url.clone();
    let mut files = Vec::new();
    for tag in Tags::new(text) {
        match tag.name.as_str() {
            "meta" if tag.attr("name") == Some("pypi:repository-version") => {
                check_api_version(tag.attr("content").unwrap_or_default(), page_url)?;
            }
            "base" => {
                if let Some(href) = tag.attr("href") {
                    base = page_url
                        .join(href)
                        .with_context(|| format!("{page_url}: bad <base href={href:?}>"))?;
                }
            }
            "a" => {
                let Some(href) = tag.attr("href") else {
                    continue;
                };
                files.push(html_file(&tag, href, &base, page_url)?);
            }
            _ => {}
        }
    }
    Ok(ProjectPage {
        format: Format::Html,
        name: None,
        files,
    })
}

fn html_file(tag: &Tag, href: &str, base: &Url, page_url: &Url) -> anyhow::Result<IndexFile> {
    let mut url = base
        .join(href)
        .with_context(|| format!("{page_url}: bad href {href:?}"))?;
    let mut hashes = BTreeMap::new();
    if let Some(fragment) = url.fragment() {
        if let Some((name, value)) = fragment.split_once('=') {
            hashes.insert(name.to_ascii_lowercase(), value.to_ascii_lowercase());
        }
    }
    url.set_fragment(None);
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(last)
        .decode_utf8()
        .map_err(|_| anyhow::anyhow!("{page_url}: file name in {href:?} is not UTF-8"))?;
    let filename = safe_filename(&decoded, page_url)?;
    let sha256 = sha256_of(&hashes, &filename, page_url)?;
    let core_metadata = match tag
        .attr("data-core-metadata")
        .or(tag.attr("data-dist-info-metadata"))
    {
        None => CoreMetadata::Absent,
        Some(value) => match value.split_once('=') {
            Some((name, hex)) if name.eq_ignore_ascii_case("sha256") => {
                CoreMetadata::Hashed(hex.to_ascii_lowercase().parse().map_err(|err| {
                    anyhow::anyhow!("{page_url}: {filename}: core metadata {err}")
                })?)
            }
            _ => CoreMetadata::Present,
        },
    };
    Ok(IndexFile {
        filename,
        url,
        hashes,
        sha256,
        requires_python: tag.attr("data-requires-python").map(str::to_owned),
        yanked: tag.attr("data-yanked").map(str::to_owned),
        core_metadata,
        size: None,
    })
}

/// A start tag: lowercase name and its attributes, values unescaped.
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The start tags of an HTML text, skipping comments, doctype and end tags.
struct Tags<'a> {
    rest: &'a str,
}

impl<'a> Tags<'a> {
    fn new(text: &'a str) -> Self {
        Tags { rest: text }
    }
}

impl Iterator for Tags<'_> {
    type Item = Tag;

    fn next(&mut self) -> Option<Tag> {
        loop {
            let start = self.rest.find('<')?;
            self.rest = &self.rest[start + 1..];
            if let Some(after) = self.rest.strip_prefix("!--") {
                self.rest = after.find("-->").map_or("", |end| &after[end + 3..]);
                continue;
            }
            if self.rest.starts_with(['!', '?', '/']) {
                self.rest = self.rest.find('>').map_or("", |end| &self.rest[end + 1..]);
                continue;
            }
            let name_len = self
                .rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(self.rest.len());
            if name_len == 0 {
                continue;
            }
            let name = self.rest[..name_len].to_ascii_lowercase();
            self.rest = &self.rest[name_len..];
            let attrs = self.attributes();
            return Some(Tag { name, attrs });
        }
    }
}

impl Tags<'_> {
    /// Reads attributes up to and including the tag's `>`.
    fn attributes(&mut self) -> Vec<(String, String)> {
        let mut attrs = Vec::new();
        loop {
            self.rest = self
                .rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
            if self.rest.is_empty() {
                return attrs;
            }
            if let Some(after) = self.rest.strip_prefix('>') {
                self.rest = after;
                return attrs;
            }
            let name_len = self
                .rest
                .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '>' || c == '/')
                .unwrap_or(self.rest.len())
                .max(1);
            let name = self.rest[..name_len].to_ascii_lowercase();
            self.rest = self.rest[name_len..].trim_start_matches(|c: char| c.is_ascii_whitespace());
            let mut value = String::new();
            if let Some(after) = self.rest.strip_prefix('=') {
                let after = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
                let (raw, rest) = match after.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let body = &after[1..];
                        match body.find(q) {
                            Some(end) => (&body[..end], &body[end + 1..]),
                            None => (body, ""),
                        }
                    }
                    _ => {
                        let end = after
                            .find(|c: char| c.is_ascii_whitespace() || c == '>')
                            .unwrap_or(after.len());
                        (&after[..end], &after[end..])
                    }
                };
                value = unescape(raw);
                self.rest = rest;
            }
            if !attrs.iter().any(|(k, _)| *k == name) {
                attrs.push((name, value));
            }
        }
    }
}

/// Decodes HTML character references: the five XML entities, `&nbsp;`,
/// and numeric `&#N;`/`&#xH;`. Anything else stays as written.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let num = entity.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data/simple_index")
            .join(name);
        fs_err::read(path).unwrap()
    }

    fn page_url(name: &str) -> Url {
        Url::parse(&format!("https://pypi.org/simple/{name}/")).unwrap()
    }

    fn sha(hex: &str) -> Option<Sha256> {
        Some(hex.parse().unwrap())
    }

    #[test]
    fn pypi_json_and_html_agree() {
        for project in ["ptyprocess", "certifi"] {
            let url = page_url(project);
            let json = parse(
                Some(JSON_TYPE),
                &fixture(&format!("pypi-{project}.json")),
                &url,
            )
            .unwrap();
            let html = parse(
                Some("text/html"),
                &fixture(&format!("pypi-{project}.html")),
                &url,
            )
            .unwrap();
            assert_eq!(json.format, Format::Json);
            assert_eq!(html.format, Format::Html);
            assert_eq!(json.name.as_deref(), Some(project));
            assert!(!json.files.is_empty());
            let key = |f: &IndexFile| {
                (
                    f.filename.clone(),
                    f.url.clone(),
                    f.sha256,
                    f.requires_python.clone(),
                    f.yanked.clone(),
                )
            };
            let mut a: Vec<_> = json.files.iter().map(key).collect();
            let mut b: Vec<_> = html.files.iter().map(key).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{project}: JSON and HTML pages disagree");
            assert!(json
                .files
                .iter()
                .all(|f| f.size.is_some() && f.sha256.is_some()));
        }
    }

    #[test]
    fn pypi_certifi_details() {
        let html = parse_html(
            std::str::from_utf8(&fixture("pypi-certifi.html")).unwrap(),
            &page_url("certifi"),
        )
        .unwrap();
        let f = html
            .files
            .iter()
            .find(|f| f.filename == "certifi-2022.5.18.tar.gz")
            .unwrap();
        assert_eq!(
            f.yanked.as_deref(),
            Some("Incorrectly claims to support Python 3.5.")
        );
        assert_eq!(f.requires_python.as_deref(), Some(">=3.5"));
        assert_eq!(
            f.sha256,
            sha("6ae10321df3e464305a46e997da41ea56c1d311fb9ff1dd4e04d6f14653ec63a")
        );
        assert_eq!(
            f.url.as_str(),
            "https://files.pythonhosted.org/packages/c5/63/a8e4b0c24e8538cec5579edbb2df4ed1f980d5f186878905317139d83b61/certifi-2022.5.18.tar.gz"
        );
        assert_eq!(html.files.iter().filter(|f| f.yanked.is_some()).count(), 2);
    }

    #[test]
    fn handmade_html() {
        let url = Url::parse("https://idx.example/simple/demo-pkg/").unwrap();
        let page = parse(None, &fixture("handmade.html"), &url).unwrap();
        let names: Vec<&str> = page.files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "demo_pkg-1.0.tar.gz",
                "demo_pkg-1.0-py3-none-any.whl",
                "demo-pkg-0.9.zip",
                "demo_pkg-0.8.tar.gz"
            ]
        );
        let [sdist, wheel, zip, old] = &page.files[..] else {
            panic!()
        };
        assert_eq!(
            sdist.url.as_str(),
            "https://idx.example/files/demo_pkg-1.0.tar.gz"
        );
        assert_eq!(sdist.requires_python.as_deref(), Some(">=3.8,<4"));
        assert_eq!(
            sdist.sha256,
            sha("2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")
        );
        assert_eq!(sdist.yanked, None);
        assert_eq!(sdist.core_metadata, CoreMetadata::Absent);
        assert_eq!(
            wheel.url.as_str(),
            "https://idx.example/simple/demo-pkg/demo_pkg-1.0-py3-none-any.whl"
        );
        assert_eq!(
            wheel.sha256,
            sha("fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9")
        );
        // PEP 714: data-core-metadata wins over data-dist-info-metadata.
        assert_eq!(
            wheel.core_metadata,
            CoreMetadata::Hashed(
                "baa5a0964d3320fbc0c6a922140453c8513ea24ab8fd0577034804a967248096"
                    .parse()
                    .unwrap()
            )
        );
        assert_eq!(zip.yanked.as_deref(), Some(""));
        assert_eq!(zip.sha256, None);
        assert_eq!(old.sha256, None);
        assert_eq!(
            old.hashes.get("md5").map(String::as_str),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(old.core_metadata, CoreMetadata::Present);
    }

    #[test]
    fn base_href() {
        let url = Url::parse("https://idx.example/simple/demo-pkg/").unwrap();
        let page = parse(Some("text/html"), &fixture("handmade-base.html"), &url).unwrap();
        assert_eq!(
            page.files[0].url.as_str(),
            "https://mirror.example.net/packages/demo_pkg-1.0.tar.gz"
        );
    }

    #[test]
    fn handmade_json() {
        let url = Url::parse("https://idx.example/simple/demo-pkg/").unwrap();
        let page = parse(
            Some("application/vnd.pypi.simple.v1+json; charset=utf-8"),
            &fixture("handmade.json"),
            &url,
        )
        .unwrap();
        let [sdist, wheel, zip] = &page.files[..] else {
            panic!()
        };
        assert_eq!(
            sdist.url.as_str(),
            "https://idx.example/files/demo_pkg-1.0.tar.gz"
        );
        assert_eq!(sdist.size, Some(1234));
        assert_eq!(sdist.hashes.len(), 2);
        assert_eq!(
            wheel.sha256,
            sha("fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9")
        );
        assert!(matches!(wheel.core_metadata, CoreMetadata::Hashed(_)));
        assert_eq!(zip.yanked.as_deref(), Some(""));
        assert_eq!(zip.sha256, None);
    }

    #[test]
    fn adversarial_unsafe_file_names_refused() {
        let url = page_url("demo-pkg");
        let err = format!(
            "{:#}",
            parse(None, &fixture("bad-filename.html"), &url).unwrap_err()
        );
        assert!(
            err.contains("refusing file name") && err.contains("pypi.org/simple/demo-pkg"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            parse(Some(JSON_TYPE), &fixture("bad-filename.json"), &url).unwrap_err()
        );
        assert!(
            err.contains("refusing file name \"../evil.tar.gz\""),
            "{err}"
        );
    }

    #[test]
    fn adversarial_malformed_pages_refused() {
        let url = page_url("demo-pkg");
        let err = format!(
            "{:#}",
            parse(None, &fixture("bad-sha256.html"), &url).unwrap_err()
        );
        assert!(
            err.contains("64 hex digits") && err.contains("demo_pkg-1.0.tar.gz"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            parse(Some(JSON_TYPE), &fixture("bad-version.json"), &url).unwrap_err()
        );
        assert!(
            err.contains("unsupported Simple API version \"2.0\""),
            "{err}"
        );
        let err = format!(
            "{:#}",
            parse(Some(JSON_TYPE), b"{\"meta\":", &url).unwrap_err()
        );
        assert!(err.contains("malformed PEP 691 JSON"), "{err}");
        let err = format!("{:#}", parse(None, b"\xff<a href=x>", &url).unwrap_err());
        assert!(err.contains("not UTF-8"), "{err}");
    }

    #[test]
    fn unescapes() {
        assert_eq!(
            unescape("&gt;=3.8,&lt;4 &amp;&amp; &#39;x&#x27; &bogus; & end"),
            ">=3.8,<4 && 'x' &bogus; & end"
        );
    }

    #[test]
    fn tolerant_tags() {
        let url = page_url("x");
        let page = parse_html(
            "<a\nhref = \"x-1.tar.gz\" data-yanked>x</a><a href=\"y-1.tar.gz\"",
            &url,
        )
        .unwrap();
        assert_eq!(page.files.len(), 2);
        assert_eq!(page.files[0].yanked.as_deref(), Some(""));
        assert!(parse_html("<<<>>> <a", &url).unwrap().files.is_empty());
    }
}
