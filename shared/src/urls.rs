//! The parts of a URL the instance compares: its scheme and authority, and from them its
//! origin. These are URLs from the settings and from callers, compared as text; nothing here
//! fetches or normalises them.

/// `(scheme, authority)` of an absolute URL: `https://app.test:8443/x?y` → `("https", "app.test:8443")`.
pub fn scheme_and_authority(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some((scheme, authority))
}

/// `scheme://authority` of an absolute URL.
pub fn origin_of(url: &str) -> Option<String> {
    scheme_and_authority(url).map(|(scheme, authority)| format!("{scheme}://{authority}"))
}

/// The host of an absolute URL (no port, no credentials; IPv6 literals keep their brackets).
pub fn host_of(url: &str) -> Option<&str> {
    let (_, authority) = scheme_and_authority(url)?;
    let host = authority.rsplit('@').next()?;
    let host = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_authorities() {
        assert_eq!(
            origin_of("https://app.test:8443/x?y#z").as_deref(),
            Some("https://app.test:8443")
        );
        assert_eq!(scheme_and_authority("http://h?q"), Some(("http", "h")));
        assert_eq!(origin_of("/relative"), None);
        assert_eq!(
            host_of("http://app.localhost:4000/x"),
            Some("app.localhost")
        );
        assert_eq!(host_of("https://example.com"), Some("example.com"));
        assert_eq!(host_of("http://[::1]:80/"), Some("[::1]"));
    }
}
