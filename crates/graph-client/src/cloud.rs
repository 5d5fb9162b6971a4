//! National clouds: the sign-in authority and the Graph endpoint always go together.

use std::fmt;
use url::Url;

/// A national cloud by the name configuration files give it: `global` (the default), `usgov-l4` (GCC High),
/// `usgov-l5` (DoD) or `china` (21Vianet). [`Cloud::named`] turns it into a [`Cloud`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloudName {
    /// The global service.
    #[default]
    Global,
    /// US Government L4 (GCC High).
    UsgovL4,
    /// US Government L5 (DoD).
    UsgovL5,
    /// China (21Vianet).
    China,
}

/// Which Microsoft cloud a tenant lives in. The authority (sign-in) host and the Graph host are chosen together,
/// as Microsoft documents them for national cloud deployments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Cloud {
    /// Global service: `login.microsoftonline.com`, `graph.microsoft.com`.
    #[default]
    Global,
    /// US Government L4 (GCC High): `login.microsoftonline.us`, `graph.microsoft.us`.
    UsGovL4,
    /// US Government L5 (DoD): `login.microsoftonline.us`, `dod-graph.microsoft.us`.
    UsGovL5,
    /// China, operated by 21Vianet: `login.chinacloudapi.cn`, `microsoftgraph.chinacloudapi.cn`.
    China,
    /// Explicit hosts (a test server, a proxy). Both URLs are roots, e.g. `http://127.0.0.1:1234/`.
    Custom {
        /// The authority root; `{tenant}/oauth2/v2.0/token` is appended.
        authority: Url,
        /// The Graph root; `v1.0/` is appended.
        graph: Url,
    },
}

// Only ever called with the URL literals below, which the tests parse.
#[allow(clippy::expect_used)]
fn url(s: &str) -> Url {
    Url::parse(s).expect("static URL literal")
}

impl Cloud {
    /// The cloud `name`, with its sign-in authority and Graph roots replaced where an override is given (proxies,
    /// tests): an override replaces that root only.
    pub fn named(name: CloudName, authority: Option<Url>, graph: Option<Url>) -> Cloud {
        let named = match name {
            CloudName::Global => Cloud::Global,
            CloudName::UsgovL4 => Cloud::UsGovL4,
            CloudName::UsgovL5 => Cloud::UsGovL5,
            CloudName::China => Cloud::China,
        };
        if authority.is_none() && graph.is_none() {
            return named;
        }
        Cloud::Custom {
            authority: authority.unwrap_or_else(|| named.authority()),
            graph: graph.unwrap_or_else(|| named.graph_root()),
        }
    }

    /// The authority root, e.g. `https://login.microsoftonline.com/`.
    pub fn authority(&self) -> Url {
        match self {
            Cloud::Global => url("https://login.microsoftonline.com/"),
            Cloud::UsGovL4 | Cloud::UsGovL5 => url("https://login.microsoftonline.us/"),
            Cloud::China => url("https://login.chinacloudapi.cn/"),
            Cloud::Custom { authority, .. } => authority.clone(),
        }
    }

    /// The Graph root, e.g. `https://graph.microsoft.com/`.
    pub fn graph_root(&self) -> Url {
        match self {
            Cloud::Global => url("https://graph.microsoft.com/"),
            Cloud::UsGovL4 => url("https://graph.microsoft.us/"),
            Cloud::UsGovL5 => url("https://dod-graph.microsoft.us/"),
            Cloud::China => url("https://microsoftgraph.chinacloudapi.cn/"),
            Cloud::Custom { graph, .. } => graph.clone(),
        }
    }

    /// The Graph v1.0 base, e.g. `https://graph.microsoft.com/v1.0/`.
    pub fn graph_v1(&self) -> Url {
        let mut root = self.graph_root();
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        root.join("v1.0/").unwrap_or(root)
    }

    /// The scope an app-only token asks for: `<graph root>/.default`.
    pub fn default_scope(&self) -> String {
        format!("{}.default", with_slash(self.graph_root()))
    }

    /// A delegated scope on this cloud's Graph, e.g. `https://graph.microsoft.com/User.Read.All`.
    pub fn scope(&self, permission: &str) -> String {
        format!("{}{permission}", with_slash(self.graph_root()))
    }

    /// The token endpoint of a tenant.
    pub fn token_url(&self, tenant: &Tenant) -> Url {
        self.endpoint(tenant, "oauth2/v2.0/token")
    }

    /// The device-code endpoint of a tenant.
    pub fn device_code_url(&self, tenant: &Tenant) -> Url {
        self.endpoint(tenant, "oauth2/v2.0/devicecode")
    }

    fn endpoint(&self, tenant: &Tenant, path: &str) -> Url {
        let mut u = self.authority();
        if let Ok(mut segments) = u.path_segments_mut() {
            segments.pop_if_empty().push(tenant.as_str()).extend(path.split('/'));
        }
        u
    }
}

fn with_slash(u: Url) -> String {
    let s = u.to_string();
    if s.ends_with('/') { s } else { format!("{s}/") }
}

/// A tenant, by id (a GUID) or by a verified domain (`contoso.onmicrosoft.com`); `organizations` for any work
/// account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(String);

/// A tenant name that cannot be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a tenant id or domain (expected a GUID or a domain such as contoso.onmicrosoft.com)")]
pub struct InvalidTenant(pub String);

impl Tenant {
    /// Checks the text: letters, digits, `-` and `.` only, not empty.
    pub fn new(tenant: impl Into<String>) -> Result<Tenant, InvalidTenant> {
        let t = tenant.into();
        let t = t.trim().to_owned();
        if t.is_empty() || t.len() > 253 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return Err(InvalidTenant(t));
        }
        Ok(Tenant(t))
    }

    /// The tenant text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a tenant id (a GUID) rather than a domain.
    pub fn is_id(&self) -> bool {
        let parts: Vec<&str> = self.0.split('-').collect();
        parts.len() == 5
            && [8, 4, 4, 4, 12]
                .iter()
                .zip(&parts)
                .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Tenant {
    type Err = InvalidTenant;
    fn from_str(s: &str) -> Result<Tenant, InvalidTenant> {
        Tenant::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_go_together() {
        let t = Tenant::new("contoso.onmicrosoft.com").unwrap();
        assert_eq!(
            Cloud::Global.token_url(&t).as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(Cloud::Global.graph_v1().as_str(), "https://graph.microsoft.com/v1.0/");
        assert_eq!(Cloud::UsGovL4.graph_v1().as_str(), "https://graph.microsoft.us/v1.0/");
        assert_eq!(Cloud::UsGovL5.graph_v1().as_str(), "https://dod-graph.microsoft.us/v1.0/");
        assert_eq!(Cloud::UsGovL5.authority().as_str(), "https://login.microsoftonline.us/");
        assert_eq!(Cloud::China.device_code_url(&t).host_str(), Some("login.chinacloudapi.cn"));
        assert_eq!(Cloud::China.default_scope(), "https://microsoftgraph.chinacloudapi.cn/.default");
        assert_eq!(Cloud::Global.scope("User.Read.All"), "https://graph.microsoft.com/User.Read.All");
    }

    #[test]
    fn custom_hosts_for_tests() {
        let c = Cloud::Custom {
            authority: Url::parse("http://127.0.0.1:9/auth").unwrap(),
            graph: Url::parse("http://127.0.0.1:9/graph").unwrap(),
        };
        let t = Tenant::new("00000000-0000-0000-0000-000000000001").unwrap();
        assert!(t.is_id());
        assert_eq!(
            c.token_url(&t).as_str(),
            "http://127.0.0.1:9/auth/00000000-0000-0000-0000-000000000001/oauth2/v2.0/token"
        );
        assert_eq!(c.graph_v1().as_str(), "http://127.0.0.1:9/graph/v1.0/");
    }

    #[test]
    fn tenants_are_checked() {
        assert!(Tenant::new("").is_err());
        assert!(Tenant::new("contoso/../x").is_err());
        assert!(!Tenant::new("contoso.com").unwrap().is_id());
    }
}
