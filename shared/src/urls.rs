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
    }
}
