//! The page frame: landmarks (header with navigation, main, footer), a skip link, headings, the sign-out form,
//! the one-time message (announced to screen readers), and the sign-in page.

use super::auth::{Flash, MIN_PASSWORD_LEN};
use maud::{DOCTYPE, Markup, html};

/// The navigation entries; the current one is marked `aria-current="page"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Sync,
    Connections,
    Groups,
    Doctor,
}

const NAV: [(Nav, &str, &str); 4] = [
    (Nav::Sync, "/ui/sync", "User sync"),
    (Nav::Connections, "/ui/connections", "Connections"),
    (Nav::Groups, "/ui/groups", "Connection groups"),
    (Nav::Doctor, "/ui/doctor", "Doctor"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · secure-schools-sync" }
            link rel="stylesheet" href="/ui/assets/ui.css";
            script src="/ui/assets/ui.js" defer {}
        }
    }
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// A signed-in page.
pub(crate) fn page(current: Nav, title: &str, csrf: &str, flash: Option<&Flash>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a class="skip" href="#main" { "Skip to main content" }
                header class="top" {
                    p class="brand" { a href="/ui/sync" { "secure-schools-sync" } }
                    nav aria-label="Main" {
                        ul {
                            @for (nav, href, label) in NAV {
                                li {
                                    @if nav == current {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form method="post" action="/ui/logout" class="logout" {
                        (csrf_field(csrf))
                        button type="submit" class="secondary" { "Sign out" }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    @if let Some(f) = flash {
                        div class=(if f.ok { "flash ok" } else { "flash bad" }) role=(if f.ok { "status" } else { "alert" }) {
                            (f.text)
                        }
                    }
                    (content)
                }
                footer { p { "Keeps Secure Schools users in step with your identity source. " a href="/ui/doctor" { "Something wrong? Run the doctor." } } }
            }
        }
    }
}

/// A page without navigation (errors).
pub(crate) fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main id="main" class="narrow" {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// The sign-in page.
pub(crate) fn login(csrf: &str, next: &str, error: Option<&str>, configured: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body {
                main id="main" class="narrow" {
                    h1 { "Sign in to secure-schools-sync" }
                    @if let Some(e) = error {
                        div class="flash bad" role="alert" { (e) }
                    }
                    @if configured {
                        form method="post" action="/ui/login" {
                            (csrf_field(csrf))
                            input type="hidden" name="next" value=(next);
                            div class="field" {
                                label for="password" { "Admin password" }
                                input id="password" name="password" type="password" autocomplete="current-password" required autofocus;
                            }
                            button type="submit" { "Sign in" }
                        }
                    } @else {
                        section aria-labelledby="setup" {
                            h2 id="setup" { "No admin password is set yet" }
                            p {
                                "Start the daemon once with the environment variable "
                                code { "SECURE_SCHOOLS_SYNC_ADMIN_PASSWORD" }
                                " set to a password of at least " (MIN_PASSWORD_LEN) " characters. Only its hash is kept, in the store; starting with another password later replaces it."
                            }
                        }
                    }
                }
            }
        }
    }
}
