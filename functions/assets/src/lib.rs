//! Clerk's browser bundles, as framework SDKs hot-load them from the Frontend API:
//! `GET [<proxy prefix>]/npm/@clerk/<package>@<version>/dist/<file>`.
//!
//! ```text
//!   /npm/@clerk/clerk-js@6/dist/clerk.browser.js ─► a pinned release of that line (6.40.0)
//!   /npm/@clerk/clerk-js@6.40.0/dist/…           ─► exactly that release, when it is pinned
//!   /npm/@clerk/clerk-js/dist/…                  ─► the newest pinned release
//!   anything else                                ─► 404
//! ```
//!
//! The releases are the ones `scripts/clerk-bundles.lock` pins, unpacked (checksummed) under one
//! directory as `@clerk/<package>@<version>/dist/`; this module finds them there at start and
//! never looks outside them. A request for an exact release may be cached for a year (it cannot
//! change); one for a line or the newest release for five minutes (the pin can move).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

/// Where the bundles live under any prefix (a proxy path, an API Gateway stage).
const MARKER: &str = "/npm/@clerk/";

/// An exact release never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A line (`@6`) or the newest release follows the pin, which moves with Frontdoor's releases.
const FOLLOWS_PIN: &str = "public, max-age=300";

/// A release: `major.minor.patch` (what the lock pins; pre-releases are not served).
type Release = (u64, u64, u64);

/// The pinned releases found on disk, by package (`clerk-js`, `ui`).
#[derive(Debug, Clone, Default)]
pub struct Bundles {
    root: PathBuf,
    releases: BTreeMap<String, Vec<Release>>,
}

fn parse_release(v: &str) -> Option<Release> {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    let release = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(release)
}

fn release_name((major, minor, patch): Release) -> String {
    format!("{major}.{minor}.{patch}")
}

/// Whether a path asks for a bundle (under any prefix).
pub fn is_bundle_path(path: &str) -> bool {
    path.contains(MARKER)
}

impl Bundles {
    /// The releases unpacked under `root/@clerk/` (none if the directory is missing).
    pub fn load(root: &Path) -> Self {
        let mut releases: BTreeMap<String, Vec<Release>> = BTreeMap::new();
        let entries = std::fs::read_dir(root.join("@clerk")).into_iter().flatten();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((package, version)) = name.split_once('@') else {
                continue;
            };
            if let Some(release) = parse_release(version)
                && entry.path().join("dist").is_dir()
            {
                releases
                    .entry(package.to_owned())
                    .or_default()
                    .push(release);
            }
        }
        for list in releases.values_mut() {
            list.sort_unstable();
        }
        Self {
            root: root.to_path_buf(),
            releases,
        }
    }

    /// `package@version` pairs served, for logs.
    pub fn describe(&self) -> Vec<String> {
        self.releases
            .iter()
            .flat_map(|(p, list)| {
                list.iter()
                    .map(move |r| format!("{p}@{}", release_name(*r)))
            })
            .collect()
    }

    /// The release a request's version asks for: exact, a line (`6`, `6.40`), or none (newest).
    fn resolve(&self, package: &str, wanted: Option<&str>) -> Option<(Release, bool)> {
        let list = self.releases.get(package)?;
        let Some(wanted) = wanted else {
            return list.last().map(|r| (*r, false));
        };
        if let Some(exact) = parse_release(wanted) {
            return list.contains(&exact).then_some((exact, true));
        }
        let prefix: Vec<u64> = wanted
            .split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<_>>()?;
        let matches = |(a, b, _): &Release| match prefix.as_slice() {
            [major] => a == major,
            [major, minor] => a == major && b == minor,
            _ => false,
        };
        list.iter().rev().find(|r| matches(r)).map(|r| (*r, false))
    }

    /// Answers one request for a bundle file.
    pub async fn serve(&self, req: Request<Body>) -> Response {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        let path = req.uri().path();
        let Some(after) = path.find(MARKER).map(|at| &path[at + MARKER.len()..]) else {
            return not_found();
        };
        let Some((spec, file)) = after.split_once("/dist/") else {
            return not_found();
        };
        let (package, version) = match spec.split_once('@') {
            Some((p, v)) => (p, Some(v)),
            None => (spec, None),
        };
        let Some((release, exact)) = self.resolve(package, version) else {
            return not_found();
        };
        let Ok(uri) = format!("/{file}").parse::<Uri>() else {
            return not_found();
        };
        let dir = self
            .root
            .join("@clerk")
            .join(format!("{package}@{}", release_name(release)))
            .join("dist");
        let (mut parts, body) = req.into_parts();
        parts.uri = uri;
        // ServeDir refuses `..` and anything else that would leave `dir`.
        let served = ServeDir::new(dir)
            .append_index_html_on_directories(false)
            .oneshot(Request::from_parts(parts, body))
            .await;
        let mut response = match served {
            Ok(r) => r.map(Body::new),
            Err(never) => match never {},
        };
        if response.status().is_success() {
            let headers = response.headers_mut();
            let cache = if exact { IMMUTABLE } else { FOLLOWS_PIN };
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            // Public files: scripts and the chunks they load may be fetched cross-origin.
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
        }
        response
    }

    /// The bundles as a tower service.
    pub fn service(
        self,
    ) -> impl tower::Service<
        Request<Body>,
        Response = Response,
        Error = Infallible,
        Future = impl Send + 'static,
    > + Clone
    + Send
    + 'static {
        let bundles = std::sync::Arc::new(self);
        tower::service_fn(move |req: Request<Body>| {
            let bundles = bundles.clone();
            async move { Ok::<_, Infallible>(bundles.serve(req).await) }
        })
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-store")],
        "not a pinned Clerk bundle\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundles(list: &[(&str, Release)]) -> Bundles {
        let mut releases: BTreeMap<String, Vec<Release>> = BTreeMap::new();
        for (p, r) in list {
            releases.entry((*p).to_owned()).or_default().push(*r);
        }
        for l in releases.values_mut() {
            l.sort_unstable();
        }
        Bundles {
            root: PathBuf::new(),
            releases,
        }
    }

    #[test]
    fn versions_resolve_to_pinned_releases() {
        let b = bundles(&[
            ("clerk-js", (6, 40, 0)),
            ("clerk-js", (5, 128, 0)),
            ("ui", (1, 36, 0)),
        ]);
        assert_eq!(b.resolve("clerk-js", Some("6")), Some(((6, 40, 0), false)));
        assert_eq!(b.resolve("clerk-js", Some("5")), Some(((5, 128, 0), false)));
        assert_eq!(
            b.resolve("clerk-js", Some("5.128")),
            Some(((5, 128, 0), false))
        );
        assert_eq!(
            b.resolve("clerk-js", Some("6.40.0")),
            Some(((6, 40, 0), true))
        );
        assert_eq!(b.resolve("clerk-js", None), Some(((6, 40, 0), false)));
        assert_eq!(b.resolve("ui", Some("1")), Some(((1, 36, 0), false)));
        assert_eq!(b.resolve("clerk-js", Some("6.39.0")), None);
        assert_eq!(b.resolve("clerk-js", Some("4")), None);
        assert_eq!(b.resolve("clerk-js", Some("latest")), None);
        assert_eq!(b.resolve("clerk-js", Some("6.40.0-canary.1")), None);
        assert_eq!(b.resolve("backend", Some("1")), None);
    }
}
