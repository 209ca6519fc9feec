//! Where a browser may be sent back to after leaving the app — to a provider (social sign-in)
//! or to a mailbox (an email link): a page of an allowed origin, or a native app's URL on the
//! instance's allow-list. Anything else would make the Frontend API an open redirector.

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::flows::verification::{LinkBack, LinkTarget};

/// Whether `url` may receive the user back: a page on an allowed origin, or a native app's URL
/// on the allow-list. Returns whether it is native.
pub(crate) fn checked(app: &App, url: &str, param: &str) -> Result<bool> {
    if app.settings.redirect_allowed(url) {
        return Ok(false);
    }
    let clean = !url.chars().any(|c| c.is_control() || c.is_whitespace());
    if clean
        && app
            .settings
            .instance
            .native_redirect_urls
            .iter()
            .any(|allowed| url.starts_with(allowed.as_str()))
    {
        return Ok(true);
    }
    Err(Error::new(Code::InvalidRedirectUrl)
        .param(param)
        .long(format!(
            "{param} must be a page of an allowed origin or a native app URL on the allow-list."
        )))
}

/// For an email link: where it leads (its `redirect_url` must be a page of an allowed origin or
/// an allow-listed app's URL).
pub(crate) fn link_back(
    app: &App,
    strategy: impl Into<crate::vocabulary::Strategy>,
    redirect_url: Option<&str>,
    target: impl FnOnce() -> LinkTarget,
) -> Result<Option<LinkBack>> {
    if strategy.into() != crate::vocabulary::Strategy::EmailLink {
        return Ok(None);
    }
    let redirect_url = redirect_url.ok_or_else(|| Error::missing("redirect_url"))?;
    checked(app, redirect_url, "redirect_url")?;
    Ok(Some(LinkBack {
        target: target(),
        redirect_url: redirect_url.to_owned(),
    }))
}
